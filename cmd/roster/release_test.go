package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/testenv"
)

// releaseVersion is what TestRelease stamps its archives with.
const releaseVersion = "v9.9.9-test"

// TestRelease builds the release archives as `make release` does and
// checks what a user downloads: both archives listed in SHA256SUMS with
// the right sums; in each a static, stripped roster for its machine, at
// most 80 MB, stamped with the version, the commit and the date; the
// systemd unit passes systemd-analyze; and the amd64 binary runs the way
// the container image runs it. With a warm build cache it takes about a
// minute; a cold one compiles everything twice (two architectures).
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two release binaries")
	}
	_, err := exec.LookPath("make")
	testenv.Need(t, "make (Debian package make)", err)
	dist := t.TempDir()
	head := gitOutput(t, "rev-parse", "HEAD")
	cmd := exec.Command("make", "release", "VERSION="+releaseVersion, "DIST="+dist)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	sums := checkSums(t, dist)
	var amd64 string
	for _, arch := range []struct {
		name    string
		machine elf.Machine
	}{{"amd64", elf.EM_X86_64}, {"arm64", elf.EM_AARCH64}} {
		name := "roster_" + releaseVersion + "_linux_" + arch.name
		if _, ok := sums[name+".tar.gz"]; !ok {
			t.Fatalf("SHA256SUMS does not list %s.tar.gz: %v", name, sums)
		}
		dir := unpack(t, filepath.Join(dist, name+".tar.gz"))
		for _, f := range []string{"roster", "roster-inventory", "README.md", "deploy/roster.service"} {
			if _, err := os.Stat(filepath.Join(dir, name, f)); err != nil {
				t.Errorf("%s.tar.gz lacks %s", name, f)
			}
		}
		bin := filepath.Join(dir, name, "roster")
		checkELF(t, bin, arch.machine)
		checkELF(t, filepath.Join(dir, name, "roster-inventory"), arch.machine)
		b, err := os.ReadFile(bin)
		must(t, err)
		for _, stamp := range []string{releaseVersion, head} {
			if !bytes.Contains(b, []byte(stamp)) {
				t.Errorf("%s/roster does not hold %q", name, stamp)
			}
		}
		if arch.name == "amd64" {
			amd64 = bin
		}
	}
	checkVersionOutput(t, amd64, head)
	t.Run("systemd unit", func(t *testing.T) { checkSystemdUnit(t, amd64) })
	t.Run("image", func(t *testing.T) {
		checkDockerfile(t)
		runAsImage(t, amd64)
	})
}

func gitOutput(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// checkSums checks SHA256SUMS both ways (sha256sum -c, and here) and
// returns it as file → sum.
func checkSums(t *testing.T, dist string) map[string]string {
	t.Helper()
	check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	must(t, err)
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: bad line %q", line)
		}
		data, err := os.ReadFile(filepath.Join(dist, name))
		must(t, err)
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			t.Fatalf("SHA256SUMS: %s has another sum", name)
		}
		sums[name] = sum
	}
	if len(sums) != 2 {
		t.Fatalf("SHA256SUMS lists %d files, want the 2 archives", len(sums))
	}
	return sums
}

// unpack extracts a .tar.gz into a new directory, checking that every
// entry is owned by 0:0 (a reproducible archive).
func unpack(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	must(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	must(t, err)
	dir := t.TempDir()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		must(t, err)
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s is owned by %d:%d, want 0:0", filepath.Base(archive), h.Name, h.Uid, h.Gid)
		}
		path := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			must(t, os.MkdirAll(path, 0o755))
		case tar.TypeReg:
			must(t, os.MkdirAll(filepath.Dir(path), 0o755))
			out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			must(t, err)
			_, err = io.Copy(out, io.LimitReader(tr, 200<<20))
			must(t, err)
			must(t, out.Close())
		}
	}
}

// checkELF: an executable for machine, static (no interpreter, no dynamic
// section), stripped (no symbol table, no DWARF) and at most 80 MB.
func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	must(t, err)
	defer f.Close()
	name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s: machine %s type %s, want %s ET_EXEC", name, f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (%s)", name, p.Type)
		}
	}
	for _, s := range []string{".symtab", ".debug_info", ".zdebug_info"} {
		if f.Section(s) != nil {
			t.Errorf("%s is not stripped: it has %s", name, s)
		}
	}
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Size() > maxBinaryBytes {
		t.Errorf("%s is %.1f MB, more than %.0f MB", name, float64(fi.Size())/1e6, float64(maxBinaryBytes)/1e6)
	}
}

// checkVersionOutput runs roster version (text and JSON): the stamped
// version, the commit, an RFC 3339 date and the schema versions.
func checkVersionOutput(t *testing.T, bin, head string) {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	must(t, err)
	re := regexp.MustCompile(`^roster ` + regexp.QuoteMeta(releaseVersion) + ` \(commit ` + head + `, built (\S+), schema (\d+), job queue schema (\d+), go\S+ linux/amd64\)\n$`)
	if !re.Match(out) {
		t.Fatalf("roster version: %q, want %s", out, re)
	}
	out, err = exec.Command(bin, "version", "-o", "json").Output()
	must(t, err)
	var b buildInfo
	must(t, json.Unmarshal(out, &b))
	if _, err := time.Parse(time.RFC3339, b.Date); err != nil {
		t.Errorf("roster version -o json: date %q: %v", b.Date, err)
	}
	if b.Version != releaseVersion || b.Commit != head || b.Schema != store.SchemaVersion() || b.QueueSchema != jobs.SchemaVersion() {
		t.Errorf("roster version -o json: %+v", b)
	}
}

// checkSystemdUnit verifies deploy/roster.service with systemd-analyze,
// its ExecStart pointed at the release binary (verify fails on a missing
// one). verify exits 0 on unknown keys and bad values, printing a
// warning, so its output must be empty too.
func checkSystemdUnit(t *testing.T, bin string) {
	analyze, err := exec.LookPath("systemd-analyze")
	testenv.Need(t, "systemd-analyze (Debian's systemd package)", err)
	unit, err := os.ReadFile("../../deploy/roster.service")
	must(t, err)
	for _, want := range []string{"\nDynamicUser=yes\n", "\nProtectSystem=strict\n", "\nStateDirectory=roster\n", "\nExecStart=/usr/local/bin/roster serve\n", "\nNoNewPrivileges=yes\n"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("deploy/roster.service lacks %q", strings.TrimSpace(want))
		}
	}
	path := filepath.Join(t.TempDir(), "roster.service")
	must(t, os.WriteFile(path, bytes.ReplaceAll(unit, []byte("=/usr/local/bin/roster "), []byte("="+bin+" ")), 0o644))
	var stderr bytes.Buffer
	verify := exec.Command(analyze, "verify", "--man=no", path)
	verify.Stdout, verify.Stderr = &stderr, &stderr
	if err := verify.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
	// The exposure level it prints runs from 0.0 (best) to 10.0; the
	// threshold is in tenths of it: 20 fails above 2.0 (the unit: 1.2).
	out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security --threshold=20: %v\n%s", err, tail(string(out), 2000))
	}
}

// checkDockerfile checks the Dockerfile's shape; no container engine runs
// here to build it (README, "Operate: container image").
func checkDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	must(t, err)
	var froms, instructions []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instructions = append(instructions, line)
		if strings.HasPrefix(line, "FROM ") {
			froms = append(froms, line)
		}
	}
	df := strings.Join(instructions, "\n")
	if len(froms) != 2 || froms[1] != "FROM ${RUNTIME_IMAGE}" ||
		!strings.Contains(df, "ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot\n") {
		t.Errorf("Dockerfile: want a build stage and a final distroless static nonroot stage, got %q", froms)
	}
	last := df[strings.LastIndex(df, "FROM "):]
	for _, want := range []string{
		"USER 65532:65532",
		`VOLUME ["/var/lib/roster"]`,
		`ENTRYPOINT ["/usr/local/bin/roster", "serve"]`,
		"ENV ROSTER_DATA_DIR=/var/lib/roster",
		"COPY --from=build --chown=65532:65532 /out/data /var/lib/roster",
		"STOPSIGNAL SIGTERM",
	} {
		if !strings.Contains(last, want) {
			t.Errorf("Dockerfile's final stage lacks %s", want)
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "-X main.date=${DATE}", "-s -w"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile's build lacks %s", want)
		}
	}
	ignore, err := os.ReadFile("../../.dockerignore")
	must(t, err)
	for _, want := range []string{".git", "dist", "bin"} {
		if !strings.Contains("\n"+string(ignore)+"\n", "\n"+want+"\n") {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

// runAsImage runs the release binary as the image does: uid and gid
// 65532 with no passwd entry and no other group, an empty environment but
// the image's ENV, the data directory the only one it may write; it must
// become ready and exit 0 on SIGTERM. Needs root (setpriv).
func runAsImage(t *testing.T, bin string) {
	setpriv, err := exec.LookPath("setpriv")
	testenv.Need(t, "setpriv (util-linux)", err)
	if os.Geteuid() != 0 {
		t.Skip("running as uid 65532 needs root")
	}
	root, err := os.MkdirTemp("", "roster-image-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	must(t, os.Chmod(root, 0o755))
	data := filepath.Join(root, "var-lib-roster")
	must(t, os.Mkdir(data, 0o700))
	must(t, os.Chown(data, 65532, 65532))
	image := filepath.Join(root, "roster")
	b, err := os.ReadFile(bin)
	must(t, err)
	must(t, os.WriteFile(image, b, 0o755))

	addr := freeAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	cmd := exec.Command(setpriv, "--reuid=65532", "--regid=65532", "--clear-groups", "--",
		"/usr/bin/env", "-i",
		"ROSTER_DATA_DIR="+data, "ROSTER_DOCUMENT_DIR="+data+"/documents",
		"ROSTER_LISTEN=0.0.0.0:"+port, "ROSTER_LOG_FORMAT=json",
		// The image leaves plain HTTP on 0.0.0.0 to the operator's choice.
		"ROSTER_INSECURE_LISTEN=true",
		image, "serve")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("roster as the image runs it exited: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster as the image runs it is not ready\n%s", logs.String())
		}
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("roster as the image runs it: SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("roster did not exit within 60 s of SIGTERM\n%s", logs.String())
	}
	for _, f := range []string{"roster.db", "secret.key"} {
		fi, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			t.Errorf("the data directory lacks %s: %v", f, err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65532 {
			t.Errorf("%s is owned by uid %d, want 65532", f, st.Uid)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
	"github.com/rosterhq/roster/vault/vaulttest"
)

// sshServer is a throwaway sshd on 127.0.0.1 that accepts only user
// certificates signed by one CA.
type sshServer struct {
	port int
	user string
}

func startSSHD(t *testing.T, caPublicKey string) *sshServer {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		testenv.Need(t, "sshd (Debian package openssh-server)", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(hostKey, "")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	config := write("sshd_config", fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
TrustedUserCAKeys %s
AuthorizedKeysFile none
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
`, port, write("host_key", string(pem.EncodeToMemory(block))), filepath.Join(dir, "sshd.pid"), write("ca.pub", caPublicKey)))
	if os.Geteuid() == 0 {
		os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", config)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &sshServer{port: port, user: u.Username}
}

// TestExecWithBrokeredSSHCertificate is the real SSH round trip: a runner
// runs `roster exec`, which has an ephemeral key signed by the broker's CA,
// and both plain ssh and ansible's ping log in to an sshd that trusts only
// that CA. A certificate from another CA, or an expired one, is refused.
func TestExecWithBrokeredSSHCertificate(t *testing.T) {
	ansible, err := exec.LookPath("ansible")
	if err != nil {
		testenv.Need(t, "ansible (Debian package ansible-core)", err)
	}
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	sim := awssim.New(awssim.Options{Seed: 21, Size: 20, Regions: []string{"us-east-1"}})
	simURL, stopSim, err := sim.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	u, err := user.Current()
	must(t, err)

	t.Run("local", func(t *testing.T) {
		c := defaultConfig()
		c.Listen, c.DataDir = "127.0.0.1:0", t.TempDir()
		c.Database, c.SecretKeyFile = filepath.Join(c.DataDir, "roster.db"), filepath.Join(c.DataDir, "secret.key")
		testExecRoundTrip(t, c, "", bin, ansible, simURL)
	})
	t.Run("vault", func(t *testing.T) {
		setup := vaulttest.Configure(t, testenv.Vault(t), vaulttest.Options{AllowedUsers: []string{u.Username}})
		c := defaultConfig()
		c.Listen, c.DataDir = "127.0.0.1:0", t.TempDir()
		c.Database = filepath.Join(c.DataDir, "roster.db")
		c.SecretBackend, c.VaultAddr = "vault", setup.Server.Addr
		c.VaultKVMount, c.VaultKVPrefix, c.VaultSSHMount, c.VaultAppRoleMount = setup.KVMount, setup.PathPrefix, setup.SSHMount, setup.AppRoleMount
		c.VaultRoleIDFile = filepath.Join(c.DataDir, "role-id")
		c.VaultSecretIDFile = filepath.Join(c.DataDir, "secret-id")
		must(t, os.WriteFile(c.VaultRoleIDFile, []byte(setup.RoleID), 0o600))
		must(t, os.WriteFile(c.VaultSecretIDFile, []byte(setup.SecretID), 0o600))
		testExecRoundTrip(t, c, setup.SSHRole, bin, ansible, simURL)
	})
}

func testExecRoundTrip(t *testing.T, c Config, sshRole, bin, ansible, simURL string) {
	m := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: sources.NewRegistry(aws.Driver{Credentials: credentials.NewStaticCredentialsProvider(simAccessKey, simSecretKey, "")})}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	adminValue, hash := roster.NewTokenValue()
	must(t, m.Store.CreateToken(t.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash))
	admin := client.New(m.URL, adminValue)

	u, err := user.Current()
	must(t, err)
	// Every host of the inventory points at the local sshd.
	must(t, admin.Do(t.Context(), "POST", "/inventories", map[string]any{"name": "lab"}, nil))
	var ca struct {
		PublicKey string `json:"public_key"`
	}
	must(t, admin.Do(t.Context(), "POST", "/credentials", map[string]any{"name": "ops-ca", "type": "ssh_certificate",
		"fields": map[string]string{"username": u.Username, "ttl": "10m", "role": sshRole}}, nil))
	must(t, admin.Do(t.Context(), "GET", "/credentials/ops-ca/ssh/ca", nil, &ca))
	sshd := startSSHD(t, ca.PublicKey)
	var src struct{ ID string }
	must(t, admin.Do(t.Context(), "POST", "/inventories/lab/sources", map[string]any{"name": "ec2", "provider": "aws", "config": map[string]any{
		"regions": []string{"us-east-1"}, "endpoint_url": simURL, "hostnames": []string{"instance-id"},
		"compose": map[string]any{"ansible_host": "'127.0.0.1'", "ansible_port": fmt.Sprint(sshd.port)},
	}}, &src))
	e := m.Engine.Inline()
	srcObj, err := m.Store.Source(t.Context(), src.ID)
	must(t, err)
	run, _, err := e.Trigger(t.Context(), srcObj, roster.TriggerCLI)
	must(t, err)
	must(t, e.Run(t.Context(), run, nil))
	hosts, _, err := m.Store.Hosts(t.Context(), roster.HostFilter{InventoryID: run.InventoryID, Enabled: ptr(true), Limit: 1})
	must(t, err)
	if len(hosts) == 0 {
		t.Fatal("no enabled host to ping")
	}

	runnerValue, hash := roster.NewTokenValue()
	must(t, m.Store.CreateToken(t.Context(), &roster.Token{Name: "ci-runner", Role: roster.RoleRunner}, hash))
	env := append(os.Environ(), "ROSTER_URL="+m.URL, "ROSTER_TOKEN="+runnerValue.Reveal(),
		"ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_PIPELINING=True", "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3",
		"ANSIBLE_LOCAL_TEMP="+t.TempDir(), "HOME="+t.TempDir())
	sshArgs := fmt.Sprintf(`ssh -p %d -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i "$ROSTER_SSH_KEY_FILE" "$ROSTER_SSH_USER@127.0.0.1"`, sshd.port)
	rosterExec := func(args ...string) (string, string, int) {
		start := time.Now()
		defer func() { t.Logf("roster exec %q took %s", args[0], time.Since(start)) }()
		cmd := exec.Command(bin, append([]string{"exec", "--inventory", "lab", "--credential", "ops-ca", "--"}, args...)...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), exitStatus(err)
	}

	// Without a grant: refused (the credential is hidden from the runner:
	// the message names both causes), and audited.
	if _, stderr, code := rosterExec("true"); code != exitExecFailed || !strings.Contains(stderr, "not found, or this token holds no grant of it") {
		t.Fatalf("exec without a grant: exit %d, stderr %q; want %d", code, stderr, exitExecFailed)
	}
	must(t, admin.Do(t.Context(), "POST", "/grants", map[string]string{"token": "ci-runner", "credential": "ops-ca", "inventory": "lab"}, nil))

	out, stderr, code := rosterExec("sh", "-c", sshArgs+` echo logged-in-as-\$USER; echo token=${ROSTER_TOKEN:-none}; echo key=$ROSTER_SSH_KEY_FILE`)
	if !strings.Contains(out, "token=none") {
		t.Fatalf("the runner's token is in the command's environment:\n%s", out)
	}
	if code != 0 || !strings.Contains(out, "logged-in-as-"+sshd.user) {
		t.Fatalf("ssh through roster exec: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	keyFile := strings.TrimSpace(out[strings.Index(out, "key=")+4:])
	if _, err := os.Stat(filepath.Dir(keyFile)); !os.IsNotExist(err) {
		t.Fatalf("the key directory %s outlived the command (%v)", filepath.Dir(keyFile), err)
	}

	out, stderr, code = rosterExec(ansible, hosts[0].Name, "-m", "ping")
	if code != 0 || !strings.Contains(out, `"ping": "pong"`) {
		t.Fatalf("ansible ping through roster exec: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}

	// The command's exit status is roster exec's.
	if _, _, code := rosterExec("sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exit status %d, want 7", code)
	}
	if _, _, code := rosterExec("no-such-command-here"); code != exitNotFound {
		t.Fatalf("a missing command: exit status %d, want %d", code, exitNotFound)
	}

	// Interrupted, roster exec stops the command and still removes the key.
	cmd := exec.Command(bin, "exec", "--inventory", "lab", "--credential", "ops-ca", "--", "sh", "-c", `echo "$ROSTER_SSH_KEY_FILE"; exec sleep 60`)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	must(t, err)
	key := strings.TrimSpace(line)
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("the key is not there while the command runs: %v", err)
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	if code := exitStatus(cmd.Wait()); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("after SIGTERM: exit status %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	if _, err := os.Stat(filepath.Dir(key)); !os.IsNotExist(err) {
		t.Fatalf("the key directory outlived an interrupted command (%v)", err)
	}

	// A certificate signed by another CA is refused.
	foreign := selfSignedCert(t, u.Username)
	cmd = exec.Command("ssh", "-p", fmt.Sprint(sshd.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-i", foreign, u.Username+"@127.0.0.1", "true")
	if err := cmd.Run(); err == nil {
		t.Fatal("sshd accepted a certificate from a foreign CA")
	}

	// An expired certificate is refused.
	out, stderr, code = rosterExecTTL(bin, env, "1s", "sh", "-c", "sleep 2; "+sshArgs+" true")
	if code == 0 {
		t.Fatalf("an expired certificate logged in:\n%s\n%s", out, stderr)
	}

	// Every issuance and the refusal are in the audit log.
	var audit struct {
		Items []struct {
			Action, Outcome, Actor string
			Details                map[string]string
		}
	}
	must(t, admin.Do(t.Context(), "GET", "/audit?limit=100", nil, &audit))
	var signed, denied int
	for _, ev := range audit.Items {
		switch {
		case ev.Action == "credential.ssh_sign" && ev.Outcome == "allowed" && ev.Actor == "ci-runner" && ev.Details["serial"] != "":
			signed++
		case strings.HasPrefix(ev.Action, "credential.") && ev.Outcome == "denied" && ev.Actor == "ci-runner":
			denied++
		}
	}
	if signed < 4 || denied != 1 {
		t.Fatalf("audit: %d signed, %d denied; want at least 4 and exactly 1", signed, denied)
	}
}

func rosterExecTTL(bin string, env []string, ttl string, args ...string) (string, string, int) {
	cmd := exec.Command(bin, append([]string{"exec", "--inventory", "lab", "--credential", "ops-ca", "--ttl", ttl, "--"}, args...)...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), exitStatus(err)
}

// selfSignedCert writes a key and a certificate for user signed by a CA of
// its own, and returns the key's path.
func selfSignedCert(t *testing.T, username string) string {
	t.Helper()
	_, caKey, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(caKey)
	must(t, err)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	cert := &ssh.Certificate{Key: sshPub, CertType: ssh.UserCert, ValidPrincipals: []string{username},
		ValidAfter: uint64(time.Now().Add(-time.Minute).Unix()), ValidBefore: uint64(time.Now().Add(time.Hour).Unix()),
		Permissions: ssh.Permissions{Extensions: map[string]string{"permit-pty": ""}}}
	must(t, cert.SignCert(rand.Reader, signer))
	dir := t.TempDir()
	block, err := ssh.MarshalPrivateKey(priv, "")
	must(t, err)
	key := filepath.Join(dir, "id_ed25519")
	must(t, os.WriteFile(key, pem.EncodeToMemory(block), 0o600))
	must(t, os.WriteFile(key+"-cert.pub", ssh.MarshalAuthorizedKey(cert), 0o600))
	return key
}

func ptr[T any](v T) *T { return &v }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

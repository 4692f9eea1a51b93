package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// PrometheusBinEnv names the environment variable that points at a Prometheus
// server binary.
const PrometheusBinEnv = "ROSTER_PROMETHEUS_BIN"

const prometheusStartTimeout = 30 * time.Second

// PrometheusServer is a running Prometheus server with a configuration of the
// test's, its storage in a temporary directory, listening on plain HTTP on
// 127.0.0.1 on a free port. It is the test's own instance: a prometheus service
// the package may have started on the machine plays no part.
type PrometheusServer struct {
	URL string // base URL, e.g. "http://127.0.0.1:39187"
	Bin string // the prometheus binary

	proc   *process
	client *http.Client
}

// PrometheusBinary finds the Prometheus server: $ROSTER_PROMETHEUS_BIN, else
// /usr/bin/prometheus (Debian package prometheus), else `prometheus` on PATH.
func PrometheusBinary() (string, error) {
	return findBinary(PrometheusBinEnv, "/usr/bin/prometheus", "prometheus package", "prometheus")
}

// Prometheus starts a Prometheus server with config (the text of its
// prometheus.yml) for the calling test and stops it when the test ends. It Needs
// the binary (see PrometheusBinary). Relative paths in config resolve against the
// server's temporary directory.
func Prometheus(t testing.TB, config string) *PrometheusServer {
	t.Helper()
	p, err := startPrometheus(t.TempDir(), config)
	own(t, "prometheus", p, err)
	return p
}

func startPrometheus(dir, config string) (*PrometheusServer, error) {
	bin, err := PrometheusBinary()
	if err != nil {
		return nil, unavailable("prometheus (Debian package prometheus)", "%v", err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	p := &PrometheusServer{Bin: bin, client: &http.Client{Timeout: 10 * time.Second}}
	err = startOnFreePort(bin, false, 5*time.Second, func(attempt, port int) (*process, error) {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p.URL = "http://" + addr
		cmd := exec.Command(bin,
			"--config.file="+cfgPath,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data-%d", attempt)),
			"--web.listen-address="+addr,
			"--log.level=info",
		)
		cmd.Dir = dir
		cmd.Env = childEnv(nil, "HOME="+dir)
		var err error
		p.proc, err = startProcess("prometheus", cmd, filepath.Join(dir, fmt.Sprintf("prometheus-%d.log", attempt)), syscall.SIGTERM, syscall.SIGKILL)
		return p.proc, err
	}, func() error { return p.proc.poll(prometheusStartTimeout, 50*time.Millisecond, p.ready) })
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ready asks /-/ready, which answers 200 once the server has loaded its
// configuration and storage.
func (p *PrometheusServer) ready() error {
	status, _, err := p.get(context.Background(), "/-/ready")
	if err == nil && status != http.StatusOK {
		err = errors.New("/-/ready answered " + strconv.Itoa(status))
	}
	return err
}

func (p *PrometheusServer) get(ctx context.Context, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// PrometheusTarget is one active target as /api/v1/targets lists it: the labels
// service discovery gave it (the __meta_ ones included) and those it has after
// relabeling.
type PrometheusTarget struct {
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	Labels           map[string]string `json:"labels"`
	ScrapePool       string            `json:"scrapePool"`
	ScrapeURL        string            `json:"scrapeUrl"`
}

// ActiveTargets returns the server's active targets (GET /api/v1/targets).
func (p *PrometheusServer) ActiveTargets(ctx context.Context) ([]PrometheusTarget, error) {
	status, body, err := p.get(ctx, "/api/v1/targets?state=active")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("/api/v1/targets answered %d: %s", status, body)
	}
	var out struct {
		Status string `json:"status"`
		Data   struct {
			ActiveTargets []PrometheusTarget `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("/api/v1/targets: %v: %s", err, body)
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("/api/v1/targets: status %q: %s", out.Status, body)
	}
	return out.Data.ActiveTargets, nil
}

// Stop stops the server (idempotent). Prometheus(t) calls it at cleanup.
func (p *PrometheusServer) Stop() { p.proc.stop(10 * time.Second) }

func (p *PrometheusServer) process() *process { return p.proc }

// Logs returns the server's recent output.
func (p *PrometheusServer) Logs() string { return p.proc.logs(64 << 10) }

package deploy

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The user the image runs as (distroless' "nonroot").
const imageUser = 65532

// finalStage returns the lines of a Containerfile's last stage, comments
// and blank lines left out, continuation lines joined.
func finalStage(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	cur := ""
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		l, cur = cur+l, ""
		if strings.HasPrefix(l, "FROM ") {
			lines = nil
		}
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

// TestContainerfilesAgree: the Dockerfile and the registry-free
// Containerfile.prebuilt produce the same final image.
func TestContainerfilesAgree(t *testing.T) {
	main, prebuilt := finalStage(t, "../Dockerfile"), finalStage(t, "container/Containerfile.prebuilt")
	if strings.Join(main, "\n") != strings.Join(prebuilt, "\n") {
		t.Errorf("the final stages differ:\nDockerfile:\n%s\n\nContainerfile.prebuilt:\n%s",
			strings.Join(main, "\n"), strings.Join(prebuilt, "\n"))
	}
	for _, want := range []string{"FROM scratch", fmt.Sprintf("USER %d:%d", imageUser, imageUser), "VOLUME /var/lib/vigil", "HEALTHCHECK "} {
		found := false
		for _, l := range main {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("the Dockerfile's final stage has no %q line", want)
		}
	}
}

// run runs a command and returns its combined output, failing the test on
// an error.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildContext assembles Containerfile.prebuilt's context: a static binary
// built now, and the host's CA bundle and time zones.
func buildContext(t *testing.T) string {
	t.Helper()
	ctx := t.TempDir()
	rootfs := filepath.Join(ctx, "rootfs")
	for _, d := range []string{"usr/local/bin", "etc/ssl/certs", "usr/share", "etc/vigil"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(ctx, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "..", []string{"CGO_ENABLED=0", "GOOS=linux"}, "go", "build", "-trimpath",
		"-ldflags", "-X main.version=container-test", "-o", filepath.Join(rootfs, "usr/local/bin/vigil"), "./cmd/vigil")
	run(t, "", nil, "cp", "/etc/ssl/certs/ca-certificates.crt", filepath.Join(rootfs, "etc/ssl/certs/"))
	run(t, "", nil, "cp", "-a", "/usr/share/zoneinfo", filepath.Join(rootfs, "usr/share/"))
	return ctx
}

// containerConfig is a config for the image: one push node, listening on
// inet, the database in the volume by default.
func containerConfig(inet string) string {
	return fmt.Sprintf(`[server]
inet = %q
log_level = "info"
manager_token = "m"
reporter_token = "r"

[branding]
page_title = "Container"
page_url = "http://status.test/"
company_name = "C"
icon_color = "#000000"
icon_url = "http://status.test/i.png"
logo_color = "#000000"
logo_url = "http://status.test/l.png"
website_url = "http://status.test/"
support_url = "mailto:ops@status.test"
time_zone = "Asia/Shanghai"

[[probe.service]]
id = "s"
label = "S"

[[probe.service.node]]
id = "push"
label = "Push"
mode = "push"
`, inet)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitHealthz waits up to 30 s for GET url to answer 200 "ok".
func waitHealthz(t *testing.T, url string, logs func() string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := c.Get(url)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 && string(body) == "ok\n" {
				return
			}
			err = fmt.Errorf("%s %q", res.Status, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v after 30 s; logs:\n%s", url, err, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sandboxRefusal recognises the container runtime failing for want of
// privileges the machine does not give (no setrlimit, a cgroup layout crun
// cannot use), as opposed to a fault of the image.
func sandboxRefusal(out string) bool {
	for _, s := range []string{"setrlimit", "cgroups in hybrid mode", "OCI permission denied"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// TestContainerImage builds the image with podman from
// Containerfile.prebuilt (no registry needed), checks its configuration,
// runs it and asks /healthz through a published port and through its
// HEALTHCHECK. Where the machine lets podman build but not run containers,
// the run is skipped with the runtime's own words, and the image's
// file system is run instead: exported, and started in a chroot as the
// image's user, as root only.
func TestContainerImage(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("skipped: podman is not installed (Debian package podman)")
	}
	ctx := buildContext(t)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	image := "localhost/vigil-test:" + hex.EncodeToString(suffix)
	// The build leaves its first stage behind as an untagged image: remove
	// those this build made, and no other.
	dangling := func() map[string]bool {
		ids := map[string]bool{}
		out, _ := exec.Command(podman, "images", "--all", "--quiet", "--no-trunc", "--filter", "dangling=true").Output()
		for _, id := range strings.Fields(string(out)) {
			ids[id] = true
		}
		return ids
	}
	before := dangling()
	t.Cleanup(func() {
		for id := range dangling() {
			if !before[id] {
				exec.Command(podman, "rmi", id).Run()
			}
		}
	})
	run(t, "", nil, podman, "build", "--quiet", "--format", "docker",
		"-f", filepath.Join(mustAbs(t, "container"), "Containerfile.prebuilt"), "-t", image, ctx)
	t.Cleanup(func() { exec.Command(podman, "rmi", "--force", image).Run() })

	t.Run("config", func(t *testing.T) {
		var inspect []struct {
			Config struct {
				User       string
				WorkingDir string
				Volumes    map[string]struct{}
				Entrypoint []string
				Cmd        []string
			}
			Healthcheck struct{ Test []string } // kept with --format docker
		}
		if err := json.Unmarshal([]byte(run(t, "", nil, podman, "image", "inspect", image)), &inspect); err != nil || len(inspect) != 1 {
			t.Fatalf("podman image inspect: %v", err)
		}
		c := inspect[0].Config
		if c.User != fmt.Sprintf("%d:%d", imageUser, imageUser) {
			t.Errorf("User = %q, want the unprivileged %d:%d", c.User, imageUser, imageUser)
		}
		if _, ok := c.Volumes["/var/lib/vigil"]; !ok || c.WorkingDir != "/var/lib/vigil" {
			t.Errorf("Volumes = %v, WorkingDir = %q; want the volume /var/lib/vigil as working directory", c.Volumes, c.WorkingDir)
		}
		if got := strings.Join(inspect[0].Healthcheck.Test, " "); got != "CMD /usr/local/bin/vigil healthcheck -c /etc/vigil/config.cfg" {
			t.Errorf("Healthcheck = %q", got)
		}
		if got := strings.Join(append(c.Entrypoint, c.Cmd...), " "); got != "/usr/local/bin/vigil -c /etc/vigil/config.cfg" {
			t.Errorf("Entrypoint and Cmd = %q", got)
		}
	})

	t.Run("run", func(t *testing.T) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config.cfg")
		if err := os.WriteFile(cfg, []byte(containerConfig("0.0.0.0:8080")), 0o644); err != nil {
			t.Fatal(err)
		}
		port := freePort(t)
		name := strings.ReplaceAll(strings.TrimPrefix(image, "localhost/"), ":", "-")
		t.Cleanup(func() { exec.Command(podman, "rm", "--force", "--time", "5", name).Run() })
		out, err := exec.Command(podman, "run", "--detach", "--name", name, "--publish", fmt.Sprintf("127.0.0.1:%d:8080", port),
			"--volume", cfg+":/etc/vigil/config.cfg:ro", image).CombinedOutput()
		if err != nil {
			if sandboxRefusal(string(out)) {
				t.Skipf("skipped: this machine lets podman build images but not run them: %s", runtimeError(string(out)))
			}
			t.Fatalf("podman run: %v\n%s", err, out)
		}
		id := strings.TrimSpace(string(out))
		logs := func() string { b, _ := exec.Command(podman, "logs", id).CombinedOutput(); return string(b) }
		waitHealthz(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), logs)
		if out, err := exec.Command(podman, "healthcheck", "run", id).CombinedOutput(); err != nil {
			t.Errorf("podman healthcheck run: %v\n%s", err, out)
		}
	})

	t.Run("rootfs", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("skipped: running the image's file system in a chroot needs root")
		}
		rootfs := exportImage(t, podman, image)
		port := freePort(t)
		if err := os.WriteFile(filepath.Join(rootfs, "etc/vigil/config.cfg"),
			[]byte(containerConfig(fmt.Sprintf("127.0.0.1:%d", port))), 0o644); err != nil {
			t.Fatal(err)
		}
		// As the image would run it: its entrypoint and command, its user,
		// its working directory, nothing of the host's environment.
		asImage := func(args ...string) *exec.Cmd {
			cmd := exec.Command("/usr/local/bin/vigil", args...)
			cmd.Path = "/usr/local/bin/vigil"
			cmd.Dir = "/var/lib/vigil"
			cmd.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "ZONEINFO=/usr/share/zoneinfo"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs, Credential: &syscall.Credential{Uid: imageUser, Gid: imageUser}}
			return cmd
		}
		daemon := asImage("-c", "/etc/vigil/config.cfg")
		var logs strings.Builder
		stdout, err := daemon.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		daemon.Stderr = daemon.Stdout
		if err := daemon.Start(); err != nil {
			t.Fatalf("start the image's vigil in a chroot: %v", err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			lines := bufio.NewScanner(stdout)
			for lines.Scan() {
				logs.WriteString(lines.Text() + "\n")
			}
		}()
		t.Cleanup(func() {
			daemon.Process.Signal(syscall.SIGTERM)
			<-done
			daemon.Wait()
		})
		waitHealthz(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), func() string { return "(see below)" })
		if out, err := asImage("healthcheck", "-c", "/etc/vigil/config.cfg").CombinedOutput(); err != nil {
			t.Errorf("the image's HEALTHCHECK command: %v\n%s", err, out)
		}
		fi, err := os.Stat(filepath.Join(rootfs, "var/lib/vigil/vigil.db"))
		if err != nil {
			t.Fatalf("no database in the volume: %v", err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != imageUser {
			t.Errorf("the database is owned by uid %d, want %d", st.Uid, imageUser)
		}
		daemon.Process.Signal(syscall.SIGTERM)
		<-done
		if !strings.Contains(logs.String(), "vigil stopped") {
			t.Errorf("no graceful stop; logs:\n%s", logs.String())
		}
	})
}

// runtimeError keeps podman's "Error: …" lines, its answer, from the
// warnings around them.
func runtimeError(out string) string {
	var errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Error:") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	if len(errs) == 0 {
		return strings.TrimSpace(out)
	}
	return strings.Join(errs, "; ")
}

// exportImage unpacks the image's file system into a temporary directory,
// ownership included, without running it.
func exportImage(t *testing.T, podman, image string) string {
	t.Helper()
	id := strings.TrimSpace(run(t, "", nil, podman, "create", image))
	defer exec.Command(podman, "rm", "--force", id).Run()
	dir := t.TempDir()
	tarball := filepath.Join(dir, "rootfs.tar")
	run(t, "", nil, podman, "export", "--output", tarball, id)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", nil, "tar", "--same-owner", "-xf", tarball, "-C", rootfs)
	return rootfs
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

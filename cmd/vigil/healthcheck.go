package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/vigil-go/vigil/internal/config"
)

// healthcheckTimeout bounds `vigil healthcheck`: a container engine kills
// a check that outlives its own timeout (Docker: 30 s) and reports nothing
// useful.
const healthcheckTimeout = 5 * time.Second

// healthcheckFlags are the flags only `vigil healthcheck` takes.
type healthcheckFlags struct {
	url   *string
	ready *bool
}

func addHealthcheckFlags(fs *flag.FlagSet) healthcheckFlags {
	return healthcheckFlags{
		url:   fs.String("url", "", "healthcheck: the URL to GET (default: /healthz at the config's server.inet and path_prefix)"),
		ready: fs.Bool("ready", false, "healthcheck: ask /readyz instead of /healthz"),
	}
}

// healthcheck asks a running vigil whether it serves, for container engines
// whose images have no curl (HEALTHCHECK in the Dockerfile): exit 0 when
// the endpoint answers 200, 1 otherwise, saying why on stderr.
func healthcheck(ctx context.Context, path string, f healthcheckFlags, stdout, stderr io.Writer) error {
	target := *f.url
	if target == "" {
		cfg, _, err := config.Load(path, os.LookupEnv)
		if err != nil {
			printErrors(stderr, "vigil healthcheck: ", err)
			return errReported
		}
		endpoint := "/healthz"
		if *f.ready {
			endpoint = "/readyz"
		}
		target = "http://" + dialable(cfg.Server.Inet) + cfg.Server.PathPrefix + endpoint
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s: %s", target, res.Status, body)
	}
	fmt.Fprintf(stdout, "%s: %s", target, body)
	return nil
}

// dialable turns a listen address into one to connect to: a wildcard or
// empty host is reached on loopback.
func dialable(inet string) string {
	host, port, err := net.SplitHostPort(inet)
	if err != nil {
		return inet
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// Command vigil runs the Vigil status page daemon.
//
//	vigil [-c config.cfg]            run the daemon
//	vigil check-config [-c path]     validate a config file and print every problem
//	vigil notify-test [-c path] [channel…]  send a test message through each channel
//	vigil version                    print the version, commit and build date
//	vigil healthcheck [-c path]      exit 0 when the running vigil answers /healthz
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// SIGHUP reloads the config rather than ending the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default: // a reload is pending already: it reads the latest file
			}
		}
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, reload)
	signal.Stop(hup)
	stop()
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "vigil:", err)
		}
		os.Exit(1)
	}
}

// errReported means the problem was already printed in detail.
var errReported = errors.New("reported")

func run(ctx context.Context, args []string, stdout, stderr io.Writer, reload <-chan struct{}) error {
	cmd := "run"
	if len(args) > 0 {
		switch args[0] {
		case "run", "check-config", "notify-test", "version", "healthcheck", "help":
			cmd, args = args[0], args[1:]
		}
	}

	fs := flag.NewFlagSet("vigil "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "./config.cfg", "path to the configuration file")
	fs.StringVar(path, "config", "./config.cfg", "path to the configuration file")
	showVersion := fs.Bool("version", false, "print the version and exit")
	var hc healthcheckFlags
	if cmd == "healthcheck" {
		hc = addHealthcheckFlags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  vigil [-c config.cfg]          run the status page\n"+
			"  vigil check-config [-c path]   check a config file and print every problem\n"+
			"  vigil notify-test [-c path] [channel…]\n"+
			"                                 send a test message through each notification channel\n"+
			"  vigil version                  print the version, commit and build date\n"+
			"  vigil healthcheck [-c path] [-ready] [-url URL]\n"+
			"                                 exit 0 when the running vigil answers /healthz (or /readyz)\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if cmd == "help" {
		fs.Usage()
		return nil
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errReported
	}
	if fs.NArg() > 0 && cmd != "notify-test" {
		fmt.Fprintf(stderr, "vigil: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errReported
	}
	if cmd == "version" || *showVersion {
		printVersion(stdout, currentBuild())
		return nil
	}
	if cmd == "healthcheck" {
		return healthcheck(ctx, *path, hc, stdout, stderr)
	}

	cfg, warnings, err := config.Load(*path, os.LookupEnv)
	if cmd == "check-config" {
		for _, w := range warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		if err != nil {
			printErrors(stderr, "error: ", err)
			return errReported
		}
		fmt.Fprintf(stdout, "%s: ok (%s)\n", *path, countOf(len(warnings), "warning"))
		return nil
	}
	if err != nil {
		for _, w := range warnings {
			fmt.Fprintln(stderr, "vigil: warning:", w)
		}
		printErrors(stderr, "vigil: ", err)
		return errReported
	}
	if cmd == "notify-test" {
		return notifyTest(ctx, cfg, fs.Args(), stdout, stderr)
	}
	return daemon.Run(ctx, daemon.Options{
		Config:   cfg,
		Warnings: warnings,
		Version:  currentBuild().Version,
		Stdout:   stdout,
		Reload:   reload,
	})
}

// countOf says "1 warning", "2 warnings", "0 warnings".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printErrors prints a config error, one problem per line.
func printErrors(w io.Writer, prefix string, err error) {
	var problems config.Errors
	if !errors.As(err, &problems) {
		fmt.Fprintln(w, prefix+err.Error())
		return
	}
	for _, p := range problems {
		fmt.Fprintln(w, prefix+p.String())
	}
}

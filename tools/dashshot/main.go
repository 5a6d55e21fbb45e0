// Command dashshot draws the import health dashboard
// (deploy/k8s/components/monitoring/dashboards/import-health.json) from a live suite's
// real metrics and screenshots it, for docs/operations.md. Grafana itself cannot be
// installed here (it is not in Debian, and neither npm nor the Go module proxy has it as
// a server to run), so the picture is this tool's rendering of the dashboard's panels, not
// Grafana's:
//
//  1. It starts the suite and a fake Libris (internal/testenv), seeds three Libris
//     profiles through the public APIs: one that imports cleanly, one whose lender is no
//     partner (its requests fail, wait in the retry backlog and are parked after
//     --park-after runs) and one whose API key Libris refuses (its runs fail).
//
//  2. It starts a real Prometheus (Debian's `prometheus` package) scraping the suite's
//     /metrics ports every 2 s, and runs the three profiles every few seconds for a while.
//
//  3. It evaluates each panel's queries on that Prometheus (Grafana's variables replaced
//     as Grafana would, $__rate_interval by four scrape intervals), draws the panels in the
//     dashboard's grid as HTML with SVG charts, and screenshots the page with headless
//     Chromium (Debian's `chromium`).
//
//     go run ./tools/dashshot -out docs/img/dashboard-import-health.png   # make dashboard-screenshot
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	out := flag.String("out", "docs/img/dashboard-import-health.png", "where the PNG goes")
	root := flag.String("root", ".", "the repository's root (the dashboard is read from there)")
	duration := flag.Duration("duration", 2*time.Minute, "how long the profiles import before the picture is taken")
	keep := flag.String("html", "", "also write the rendered page here")
	flag.Parse()
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *root, *out, *keep, *duration); err != nil {
		log.Fatalf("dashshot: %v", err)
	}
}

func run(ctx context.Context, root, out, keepHTML string, duration time.Duration) error {
	for _, bin := range []string{"prometheus", "chromium"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed (Debian: apt-get install -y prometheus chromium): %w", bin, err)
		}
	}
	title, panels, err := readDashboard(filepath.Join(root, dashboardPath))
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "dashshot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	s, err := startSuite(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	prom, err := startPrometheus(ctx, work, s.env.Addrs.HTTP)
	if err != nil {
		return err
	}
	defer prom.stop()

	log.Printf("importing for %s (Prometheus at %s)", duration, prom.url)
	start := time.Now()
	if err := s.drive(ctx, duration); err != nil {
		return err
	}
	time.Sleep(2 * scrapeInterval) // the last runs' end reaches Prometheus
	end := time.Now()
	for i := range panels {
		if err := prom.evaluate(ctx, &panels[i], start, end); err != nil {
			return fmt.Errorf("panel %q: %w", panels[i].Title, err)
		}
	}
	page := renderPage(title, panels, start, end)
	htmlPath := filepath.Join(work, "dashboard.html")
	if keepHTML != "" {
		htmlPath = keepHTML
	}
	if err := os.WriteFile(htmlPath, []byte(page), 0o644); err != nil {
		return err
	}
	if err := screenshot(ctx, htmlPath, out, pageHeight(panels)); err != nil {
		return err
	}
	log.Printf("wrote %s", out)
	return nil
}

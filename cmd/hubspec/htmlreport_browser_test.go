package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/steps"
)

// browserFeature has one scenario that passes and one that fails with a
// known message, named with markup that must stay text in the browser.
const browserFeature = `Feature: The report in a browser

  Scenario: A device the hub creates
    When the service creates device "lamp" with hub-assigned keys
    Then device "lamp" has two hub-assigned keys

  Scenario: Refused <script>document.title="owned"</script> on purpose
    When the service creates device "lamp" with hub-assigned keys
    Then the hub refuses with 409 DeviceAlreadyExists
`

// TestHTMLReportInChromium opens the report of a real run (`hubspec run
// --html` on the embedded emulator) in headless Chromium: what a reader
// gets is what a browser makes of the page, not what the template meant.
// Loaded as report.html#failed, the page's script selects the "failed
// only" filter and counts the scenarios the browser still lays out, so the
// DOM says that the script ran and that the CSS filter hid the passing one.
func TestHTMLReportInChromium(t *testing.T) {
	chromium := findChromium(t)
	embeddedEnv(t)
	dir := t.TempDir()
	feature, page, cucumber := filepath.Join(dir, "browser.feature"), filepath.Join(dir, "report.html"), filepath.Join(dir, "c.json")
	if err := os.WriteFile(feature, []byte(browserFeature), 0o600); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := hubspec(t, "--html", page, "--cucumber", cucumber, feature)
	if status != exitFailed {
		t.Fatalf("status %d, want 1\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}

	dom := chromiumRun(t, chromium, dir, "--dump-dom", "file://"+page+"#failed")
	for _, want := range []string{
		"<title>Hubspec report: failed</title>", // not "owned": the name's script never ran
		"Scenario: A device the hub creates",
		`Scenario: Refused &lt;script&gt;document.title="owned"&lt;/script&gt; on purpose`,
		`the hub refuses with 409 DeviceAlreadyExists`,
		`<pre class="error">expected the hub to refuse with 409 DeviceAlreadyExists, but it accepted</pre>`,
		`data-filter="failed"`,
		"1 of 2 scenarios shown",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if title := firstEvidenceTitle(t, cucumber); title == "" {
		t.Log("the run recorded no evidence: no evidence title to look for")
	} else if want := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(hub.Redact(title)); !strings.Contains(dom, want) {
		t.Errorf("the DOM lacks the evidence title %q", want)
	}

	shot := filepath.Join(dir, "report.png")
	chromiumRun(t, chromium, dir, "--screenshot="+shot, "--window-size=1200,900", "--hide-scrollbars", "file://"+page)
	checkScreenshot(t, shot)
}

// findChromium skips the test when no Chromium is installed, unless
// HUBSPEC_REQUIRE_CHROMIUM=1 (CI) makes that a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HUBSPEC_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium is not installed, and HUBSPEC_REQUIRE_CHROMIUM=1 (make setup installs it)")
	}
	t.Skip("chromium is not installed (make setup installs it; HUBSPEC_REQUIRE_CHROMIUM=1 makes this a failure)")
	return ""
}

// chromiumRun runs headless Chromium once, with a profile of its own in
// dir, and returns its stdout. It is bounded: a browser that hangs fails
// the test instead of stalling it.
func chromiumRun(t *testing.T, chromium, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp(dir, "profile-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, chromium, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile}, args...)...)
	cmd.WaitDelay = 10 * time.Second // helper processes holding the pipes
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// checkScreenshot decodes the PNG and checks that it shows a page, not a
// blank: several colours, among them the red of a failed badge, which only
// the page's inline CSS paints.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	colours, red := map[[3]uint32]bool{}, false
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			red = red || r>>8 > 180 && g>>8 < 80 && bl>>8 < 80
		}
	}
	if b.Dx() < 600 || b.Dy() < 400 || len(colours) < 16 || !red {
		t.Errorf("screenshot %s: %v, %d colours, red=%v: not the report", path, b, len(colours), red)
	}
}

// firstEvidenceTitle is the title of the run's first evidence item, or ""
// when the steps recorded none.
func firstEvidenceTitle(t *testing.T, cucumber string) string {
	t.Helper()
	var feats []cukeFeature
	if err := json.Unmarshal(readFile(t, cucumber), &feats); err != nil {
		t.Fatal(err)
	}
	for _, f := range feats {
		for _, e := range f.Elements {
			for _, s := range e.Steps {
				for _, em := range s.Embeddings {
					data, err := base64.StdEncoding.DecodeString(em.Data)
					var doc steps.Evidence
					if em.MimeType == steps.EvidenceMediaType && err == nil && json.Unmarshal(data, &doc) == nil && doc.Title != "" {
						return doc.Title
					}
				}
			}
		}
	}
	return ""
}

package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/internal/loadgen"
)

// run is a run's figures with the given desired-patch p50, Mosquitto
// MQTT-path p50 and suite time; everything else 0.
func run(desired, mosquitto, suite float64) Figures {
	return Figures{
		SuiteSeconds: suite,
		DesiredPatch: loadgen.Latency{P50: desired},
		Mosquitto:    Broker{MQTTPath: loadgen.Latency{P50: mosquitto}},
	}
}

func TestMedian(t *testing.T) {
	suite := func(f Figures) float64 { return f.SuiteSeconds }
	for _, c := range []struct {
		name string
		runs []Figures
		want float64
	}{
		{"none", nil, 0},
		{"one", []Figures{run(0, 0, 7)}, 7},
		{"three, unordered", []Figures{run(0, 0, 9), run(0, 0, 1), run(0, 0, 4)}, 4},
		{"four: the mean of the middle two", []Figures{run(0, 0, 10), run(0, 0, 1), run(0, 0, 3), run(0, 0, 4)}, 3.5},
		{"an outlier does not move it", []Figures{run(0, 0, 12), run(0, 0, 1000), run(0, 0, 11)}, 12},
	} {
		if got := median(c.runs, suite); got != c.want {
			t.Errorf("%s: median %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTableTakesEachCellsMedianAndTheirRatio(t *testing.T) {
	// The emulator's median (6) and Mosquitto's (2) come from different
	// runs: each cell is its own median, and the ratio is theirs.
	lines := Table([]Figures{run(6, 1, 10), run(9, 2, 12), run(3, 3, 11)})
	got := map[string]Line{}
	for _, l := range lines {
		got[l.Name] = l
	}
	if l := got["desired patch p50 (ms)"]; l.Emulator != 6 || l.Mosquitto != 2 || l.Ratio != 3 {
		t.Errorf("desired patch p50: %+v, want emulator 6, mosquitto 2, ratio 3", l)
	}
	if l := got["suite wall time (s)"]; l.Emulator != 11 || l.Mosquitto != 0 || l.Ratio != 0 {
		t.Errorf("suite wall time: %+v, want 11 and no Mosquitto figure or ratio", l)
	}
	if l := got["MQTT path p50 (ms)"]; l.Emulator != 0 || l.Mosquitto != 2 || l.Ratio != 0 {
		t.Errorf("MQTT path p50 with no emulator figure: %+v, want mosquitto 2 and no ratio", l)
	}
	if len(lines) != len(rows) {
		t.Errorf("%d lines for %d rows", len(lines), len(rows))
	}
}

func TestRatioOfNothingIsNone(t *testing.T) {
	if r := ratio(5, 0); r != 0 {
		t.Errorf("ratio(5, 0) = %v, want 0", r)
	}
	if r := ratio(1, 4); r != 0.25 {
		t.Errorf("ratio(1, 4) = %v, want 0.25", r)
	}
}

func TestWriteTable(t *testing.T) {
	lines := []Line{
		{Name: "desired patch p50 (ms)", Emulator: 6.5, Mosquitto: 0.25, Ratio: 26, digits: 2},
		{Name: "MQTT path p50 (ms)", Emulator: 0.004, Mosquitto: 0.002, Ratio: 2, digits: 2},
		{Name: "suite wall time (s)", Emulator: 12.34, digits: 1},
		{Name: "connects/s", Mosquitto: 300, digits: 0},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, lines); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"                                    emulator  mosquitto   ratio",
		"  desired patch p50 (ms)                6.50       0.25  26.00x",
		"  MQTT path p50 (ms)                   0.004      0.002   2.00x",
		"  suite wall time (s)                   12.3          -       -",
		"  connects/s                               -        300       -",
		"",
	}, "\n")
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

package iotquery

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonDoc is a Document over decoded JSON, numbers kept as json.Number as
// the emulator keeps them.
type jsonDoc map[string]any

func (d jsonDoc) Lookup(path []string) (any, bool) {
	var v any = map[string]any(d)
	for _, s := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s]; !ok {
			return nil, false
		}
	}
	return v, true
}

func docs(t testing.TB, src string) []Document {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var ms []map[string]any
	if err := dec.Decode(&ms); err != nil {
		t.Fatal(err)
	}
	out := make([]Document, len(ms))
	for i, m := range ms {
		out[i] = jsonDoc(m)
	}
	return out
}

const twins = `[
 {"deviceId":"a","status":"enabled","tags":{"floor":3,"site":"north","loc":{"city":"Oslo"}},
  "properties":{"desired":{"mode":"eco","$version":2},"reported":{"fw":"1.2.0","temp":21.5,"nul":null,"$version":4}}},
 {"deviceId":"b","status":"disabled","tags":{"floor":3.0,"site":"south"},
  "properties":{"desired":{"$version":1},"reported":{"fw":"1.3.0","temp":19,"$version":2}}},
 {"deviceId":"c","status":"enabled","tags":{"floor":"3"},
  "properties":{"desired":{"mode":"eco","$version":3},"reported":{"$version":1}}}
]`

func matching(t *testing.T, query string) string {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	var ids []string
	for _, d := range docs(t, twins) {
		if q.Match(d) {
			id, _ := d.Lookup([]string{"deviceId"})
			ids = append(ids, id.(string))
		}
	}
	return strings.Join(ids, ",")
}

func TestWhere(t *testing.T) {
	for _, c := range []struct{ where, want string }{
		{"tags.floor = 3", "a,b"}, // 3 and 3.0 are one number; "3" is a string
		{"tags.floor = '3'", "c"},
		{"tags.floor != 3", ""}, // "3" is not comparable with 3: undefined, not true
		{"tags.site != 'north'", "b"},
		{"tags.site <> 'north'", "b"},
		{"properties.reported.temp > 20", "a"},
		{"properties.reported.temp >= 19 AND properties.reported.temp < 21.5", "b"},
		{"properties.reported.temp <= 19 OR tags.site = 'north'", "a,b"},
		{"NOT (status = 'enabled')", "b"},
		{"NOT (tags.site = 'north')", "b"}, // c has no site: NOT undefined is undefined
		{"status IN ['enabled', 'x']", "a,c"},
		{"status NIN ['enabled']", "b"},
		{"tags.site NIN ['north']", "b"},
		{"IS_DEFINED(properties.desired.mode)", "a,c"},
		{"NOT IS_DEFINED(properties.desired.mode)", "b"},
		{"IS_DEFINED(properties.reported.nul)", "a"}, // null counts as defined
		{"properties.reported.nul = null", "a"},
		{"STARTSWITH(properties.reported.fw, '1.2')", "a"},
		{"ENDSWITH(deviceId, 'c')", "c"},
		{"STARTS_WITH(deviceId, 'b')", "b"},
		{"STARTSWITH(tags.floor, '3')", "c"}, // numbers are not strings
		{"tags.floor + 1 = 4", "a,b"},
		{"tags.floor * 2 - 1 = 5 AND tags.floor % 2 = 1", "a,b"},
		{"tags.floor / 0 = 1", ""},
		{"-tags.floor = -3", "a,b"},
		{"tags.loc = tags.loc", ""}, // objects are not compared
		{"tags.loc.city = 'Oslo'", "a"},
		{"properties.desired.$version > 1", "a,c"},
		{"deviceId > 'a'", "b,c"},
		{"tags.missing = undefined", ""},
		{"true", "a,b,c"},
		{"'true'", ""}, // only the Boolean true passes
		{"1", ""},
		{"false OR status = 'disabled'", "b"},
		{"tags.missing = 1 OR status = 'disabled'", "b"}, // undefined OR true
		{"tags.missing = 1 AND false", ""},
		{"STATUS = 'enabled'", ""}, // paths are case-sensitive unless the caller folds them
	} {
		if got := matching(t, "SELECT * FROM devices WHERE "+c.where); got != c.want {
			t.Errorf("WHERE %s: got [%s], want [%s]", c.where, got, c.want)
		}
	}
}

func rows(t *testing.T, query string) string {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	var out []Row
	if q.Aggregated() {
		g := q.NewGroups()
		for _, d := range docs(t, twins) {
			if q.Match(d) {
				g.Add(d)
			}
		}
		out = g.Rows()
	} else {
		for _, d := range docs(t, twins) {
			if q.Match(d) {
				out = append(out, q.Project(d))
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProjectionsAndAggregates(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{"SELECT deviceId, tags.loc FROM devices WHERE tags.site = 'north'", `[{"deviceId":"a","loc":{"city":"Oslo"}}]`},
		{"SELECT tags.site AS s, deviceId FROM devices", `[{"s":"north","deviceId":"a"},{"s":"south","deviceId":"b"},{"deviceId":"c"}]`},
		{"SELECT properties.reported.temp FROM devices WHERE deviceId = 'b'", `[{"temp":19}]`},
		{"SELECT COUNT() AS n FROM devices", `[{"n":3}]`},
		{"SELECT COUNT() AS n FROM devices WHERE false", `[{"n":0}]`},
		{"SELECT COUNT() FROM devices", `[{"$1":3}]`},
		{"SELECT status, COUNT() AS n FROM devices GROUP BY status", `[{"status":"enabled","n":2},{"status":"disabled","n":1}]`},
		{"SELECT tags.floor AS floor, COUNT() AS n FROM devices GROUP BY tags.floor", `[{"floor":3,"n":2},{"floor":"3","n":1}]`},
		{"SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site", `[{"site":"north","n":1},{"site":"south","n":1},{"n":1}]`},
		{"SELECT status, COUNT() AS n FROM devices WHERE false GROUP BY status", `[]`},
		{"SELECT SUM(properties.reported.temp) AS s, AVG(properties.reported.temp) AS a, MIN(properties.reported.temp) AS lo, MAX(properties.reported.temp) AS hi FROM devices",
			`[{"s":40.5,"a":20.25,"lo":19,"hi":21.5}]`},
		{"SELECT MIN(properties.reported.fw) AS lo, MAX(deviceId) AS hi, SUM(deviceId) AS bad FROM devices", `[{"lo":"1.2.0","hi":"c"}]`},
		{"SELECT MAX(tags.floor) AS m FROM devices", `[{}]`}, // 3 and "3" cannot be ordered together
		{"SELECT SUM(tags.none) AS s, COUNT() AS n FROM devices", `[{"n":3}]`},
		{"SELECT status FROM devices GROUP BY status", `[{"status":"enabled"},{"status":"disabled"}]`},
	} {
		if got := rows(t, c.query); got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.query, got, c.want)
		}
	}
}

// TestProjectCopies: a row shares nothing with the document, which the
// registry may change once its lock is released.
func TestProjectCopies(t *testing.T) {
	d := docs(t, twins)[0].(jsonDoc)
	q, _ := Parse("SELECT tags.loc FROM devices")
	row := q.Project(d)
	d["tags"].(map[string]any)["loc"].(map[string]any)["city"] = "Bergen"
	if b, _ := json.Marshal(row); string(b) != `{"loc":{"city":"Oslo"}}` {
		t.Fatalf("row changed with the document: %s", b)
	}
}

func TestRowKeepsStringsAsWritten(t *testing.T) {
	b, err := Row{{"a<b", "x&y"}}.MarshalJSON() // json.Marshal would escape it again
	if err != nil || string(b) != `{"a<b":"x&y"}` {
		t.Fatalf("%s %v", b, err)
	}
}

// TestBracketedNames: a configuration's metric names it in double brackets,
// configurations.[[id]].status, since configuration ids may hold characters
// a name cannot ('-', ':', ...); the query prints it back the same way.
func TestBracketedNames(t *testing.T) {
	if q, err := Parse("SELECT * FROM devices WHERE [[where]] = 1"); err != nil || q.String() != "SELECT * FROM devices WHERE ([[where]] = 1)" {
		t.Errorf("a reserved word in brackets: %v, %v", q, err)
	}
	q, err := Parse("SELECT deviceId FROM devices WHERE configurations.[[fw-2:a]].status = 'Applied'")
	if err != nil {
		t.Fatal(err)
	}
	d := docs(t, `[{"deviceId":"a","configurations":{"fw-2:a":{"status":"Applied"}}},{"deviceId":"b","configurations":{"fw-2:a":{"status":"Targeted"}}}]`)
	if !q.Match(d[0]) || q.Match(d[1]) {
		t.Errorf("match = %v, %v; want true, false", q.Match(d[0]), q.Match(d[1]))
	}
	if got, want := q.String(), "SELECT deviceId FROM devices WHERE (configurations.[[fw-2:a]].status = 'Applied')"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, bad := range []string{"SELECT * FROM devices WHERE configurations.[[]].status = 'Applied'", "SELECT * FROM devices WHERE configurations.[[x.status = 'Applied'"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

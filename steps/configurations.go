package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/iotquery"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// configurationVocabulary are automatic device and module configurations
// (/configurations): the service creates, changes and deletes them, and
// checks what they did to twins and what their metrics count.
// Configurations are hub-wide, so each is named under the scenario's id,
// its target condition is limited to the scenario's own devices and its
// metric queries name configurations by their hub names: scenarios running
// side by side, or a live hub's other devices, never change each other's.
var configurationVocabulary = []vocab.Def{
	step(configurations, `^the service creates (device|module) configuration "([^"]*)" with priority (\d+) targeting (.+) to set:$`, createConfiguration,
		"The service creates an automatic configuration of device twins or of module twins, whose content (the text block below the step: a JSON object keyed by properties.desired or properties.desired.<path>) the hub merges into the desired properties of every twin the target condition matches, the highest priority winning. A refusal is left for the next step to check.",
		"", "<alias> the configuration's alias: lowercase letters, digits and -", "<priority> the priority, 0 or more",
		"<condition> the target condition, e.g. tags.site = 'north', or * for every twin; it is limited to the scenario's devices"),
	step(configurations, `^the service changes configuration "([^"]*)" to priority (\d+)(?: targeting (.+))?$`, changeConfiguration,
		"The service updates the configuration with the etag it just read: a new priority and, when given, a new target condition (its content cannot change). A refusal is left for the next step to check.",
		"", "<priority> the new priority", "<condition> the new target condition"),
	step(configurations, `^the service adds to configuration "([^"]*)" the metric "([^"]*)": (.+)$`, addConfigurationMetric,
		"The service updates the configuration with the etag it just read, adding a custom metric: a query whose rows the hub counts. Configurations in it are named by alias in double brackets: configurations.[[fw]].status = 'Applied'.",
		"", "<metric> the metric's name", "<query> the query, e.g. SELECT deviceId FROM devices WHERE properties.reported.fw = '2'"),
	step(configurations, `^the service deletes configuration "([^"]*)"$`, deleteConfiguration,
		"The service deletes the configuration. The desired properties it set stay as they are; another configuration targeting the same twins may now apply."),
	step(configurations, `^configuration "([^"]*)" counts (\d+) targeted and (\d+) applied twins?$`, configurationCounts,
		"Reads the configuration until its system metrics count this many twins targeted (matching its condition) and applied (having its content as their winning configuration).",
		"", "<targeted> the number of twins targeted", "<applied> the number of twins applied to"),
	step(configurations, `^configuration "([^"]*)" counts (\d+) for the metric "([^"]*)"$`, configurationMetricCounts,
		"Reads the configuration until its custom metric counts this many rows.",
		"", "<count> the number of rows", "<metric> the metric's name"),
	step(configurations, `^the twin of (device|module) ("[^"]+"(?: on device "[^"]+")?) shows configuration "([^"]*)" (Applied|Targeted|nowhere)$`, twinShowsConfiguration,
		"Reads the twin until its configurations member shows the configuration as Applied (its content won) or Targeted (it matches, another won), or does not show it (nowhere).",
		"", "", "", "<status> Applied, Targeted or nowhere"),
	step(configurations, `^the hub finds the (target condition|metric query) "(.*)" (valid|invalid)$`, testConfigurationQuery,
		"The service asks the hub to test a target condition or a custom metric query before using it (POST /configurations/testQueries), and checks the hub's verdict.",
		"<what> target condition or metric query", "<text> the condition or the query", "<verdict> valid or invalid"),
}

// configName is the hub's id of the scenario's configuration alias.
func (w *world) configName(alias string) string { return w.sc.Name(alias) }

// bracketed finds configurations named in double brackets in a query.
var bracketed = regexp.MustCompile(`\[\[([^\]]*)\]\]`)

// scopeTarget limits a target condition to the scenario's devices, like
// scopeQuery does a query: deviceId IN [...] AND (condition). A condition
// the parser refuses goes as written, for the hub to refuse.
func (w *world) scopeTarget(cond string, modules bool) string {
	from := "devices"
	if modules {
		from = "devices.modules"
	}
	src := "SELECT * FROM " + from
	if strings.TrimSpace(cond) != "*" {
		src += " WHERE " + cond
	}
	q, err := iotquery.Parse(src)
	if err != nil {
		return cond
	}
	q.RestrictToDevices(w.deviceNames())
	_, where, _ := strings.Cut(q.String(), " WHERE ")
	return where
}

// deviceNames are the hub names of every device the scenario named.
func (w *world) deviceNames() []string {
	var ids []string
	for _, i := range w.named {
		if i.kind == "device" {
			ids = append(ids, w.sc.Name(i.alias))
		}
	}
	return ids
}

// scopeMetric names configurations by their hub names and limits the
// query to the scenario's devices.
func (w *world) scopeMetric(query string) string {
	query = bracketed.ReplaceAllStringFunc(query, func(m string) string {
		return "[[" + w.configName(bracketed.FindStringSubmatch(m)[1]) + "]]"
	})
	return w.scopeQuery(query)
}

func createConfiguration(ctx context.Context, kind, alias, priority, cond string, doc *godog.DocString) error {
	w := worldFrom(ctx)
	var content map[string]any
	if err := json.Unmarshal([]byte(doc.Content), &content); err != nil {
		return fmt.Errorf("the configuration's content is not a JSON object: %w", err)
	}
	p, _ := strconv.Atoi(priority)
	cfg := &hub.Configuration{ID: w.configName(alias), Priority: p, TargetCondition: w.scopeTarget(cond, kind == "module"),
		Content: &hub.ConfigurationContent{}}
	if kind == "module" {
		cfg.Content.ModuleContent = content
	} else {
		cfg.Content.DeviceContent = content
	}
	if _, err := w.registry.CreateConfiguration(ctx, cfg); err != nil {
		return w.refused(err)
	}
	name := cfg.ID
	w.sc.Defer("delete configuration "+alias, func(ctx context.Context) error {
		if err := w.admin.DeleteConfiguration(ctx, name, ""); err != nil && !errors.Is(err, hub.ErrConfigurationNotFound) {
			return err
		}
		return nil
	})
	return nil
}

// updateConfiguration reads the configuration, changes it and writes it
// back with the etag it read.
func (w *world) updateConfiguration(ctx context.Context, alias string, change func(*hub.Configuration)) error {
	cfg, err := w.registry.GetConfiguration(ctx, w.configName(alias))
	if err != nil {
		return w.refused(err)
	}
	change(cfg)
	if _, err := w.registry.UpdateConfiguration(ctx, cfg, cfg.ETag); err != nil {
		return w.refused(err)
	}
	return nil
}

func changeConfiguration(ctx context.Context, alias, priority, cond string) error {
	w := worldFrom(ctx)
	return w.updateConfiguration(ctx, alias, func(c *hub.Configuration) {
		c.Priority, _ = strconv.Atoi(priority)
		if cond != "" {
			c.TargetCondition = w.scopeTarget(cond, c.Content != nil && len(c.Content.ModuleContent) > 0)
		}
	})
}

func addConfigurationMetric(ctx context.Context, alias, metric, query string) error {
	w := worldFrom(ctx)
	return w.updateConfiguration(ctx, alias, func(c *hub.Configuration) {
		if c.Metrics == nil {
			c.Metrics = &hub.ConfigurationMetrics{}
		}
		if c.Metrics.Queries == nil {
			c.Metrics.Queries = map[string]string{}
		}
		c.Metrics.Queries[metric] = w.scopeMetric(query)
	})
}

func deleteConfiguration(ctx context.Context, alias string) error {
	w := worldFrom(ctx)
	if err := w.registry.DeleteConfiguration(ctx, w.configName(alias), ""); err != nil {
		return w.refused(err)
	}
	return nil
}

// configurationResults polls the configuration until judge accepts it.
func (w *world) configurationResults(ctx context.Context, alias string, judge func(*hub.Configuration) error) error {
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		c, err := w.registry.GetConfiguration(ctx, w.configName(alias))
		if err != nil {
			return err
		}
		return judge(c)
	})
}

func configurationCounts(ctx context.Context, alias string, targeted, applied int) error {
	w := worldFrom(ctx)
	return w.configurationResults(ctx, alias, func(c *hub.Configuration) error {
		var r map[string]int64
		if c.SystemMetrics != nil {
			r = c.SystemMetrics.Results
		}
		if r["targetedCount"] != int64(targeted) || r["appliedCount"] != int64(applied) {
			return fmt.Errorf("configuration %s counts %d targeted and %d applied, want %d and %d", alias, r["targetedCount"], r["appliedCount"], targeted, applied)
		}
		return nil
	})
}

func configurationMetricCounts(ctx context.Context, alias string, count int, metric string) error {
	w := worldFrom(ctx)
	return w.configurationResults(ctx, alias, func(c *hub.Configuration) error {
		if c.Metrics == nil || c.Metrics.Results == nil {
			return fmt.Errorf("configuration %s has no result for the metric %q", alias, metric)
		}
		got, ok := c.Metrics.Results[metric]
		if !ok || got != int64(count) {
			return fmt.Errorf("configuration %s's metric %q counts %d (present: %v), want %d", alias, metric, got, ok, count)
		}
		return nil
	})
}

func twinShowsConfiguration(ctx context.Context, kind, ref, alias, status string) error {
	w, i, err := whoIn(ctx, kind, ref)
	if err != nil {
		return err
	}
	name := w.configName(alias)
	return Eventually(ctx, settleWithin, func(ctx context.Context) error {
		t, err := w.getTwin(ctx, i)
		if err != nil {
			return err
		}
		got, ok := t.Configurations[name]
		switch {
		case status == "nowhere" && ok:
			return fmt.Errorf("the twin of %s shows configuration %s as %s, want it absent", i, alias, got.Status)
		case status != "nowhere" && got.Status != status:
			return fmt.Errorf("the twin of %s shows configuration %s as %q, want %s (configurations: %v)", i, alias, got.Status, status, t.Configurations)
		}
		return nil
	})
}

func testConfigurationQuery(ctx context.Context, what, text, verdict string) error {
	w := worldFrom(ctx)
	in := hub.ConfigurationQueriesTestInput{TargetCondition: "*"}
	if what == "target condition" {
		in.TargetCondition = text
	} else {
		in.CustomMetricQueries = map[string]string{"m": w.scopeMetric(text)}
	}
	res, err := w.registry.TestConfigurationQueries(ctx, in)
	if err != nil {
		return err
	}
	found := res.TargetConditionError
	if what != "target condition" {
		found = res.CustomMetricQueryErrors["m"]
	}
	if (found == "") != (verdict == "valid") {
		return fmt.Errorf("the hub finds the %s %q %s (error %q), want %s", what, text, map[bool]string{true: "valid", false: "invalid"}[found == ""], found, verdict)
	}
	return nil
}

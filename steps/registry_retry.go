package steps

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/hub/service"
)

// A client that backs off tries this often in all, doubling its delay from
// backoffBase (the hub sends no Retry-After); enough for the few throttled
// answers a scenario asks for, and quick.
const (
	backoffAttempts = 6
	backoffBase     = 50 * time.Millisecond
)

// registryRetryVocabulary reads the registry with a retry policy of the
// scenario's choosing, where the world's own client (which backs off with
// hub's defaults) would hide what a throttled hub answers.
var registryRetryVocabulary = []vocab.Def{
	step(faults, `^the service reads (device|module|the twin of device|the twin of module) ("[^"]+"(?: on device "[^"]+")?) (once|backing off when throttled)$`, readWithRetryPolicy,
		"The service reads an identity or its twin trying once, or backing off and retrying while the hub answers 429; a final refusal is left for the next step to check."),
	step(faults, `^the hub throttled that read (\d+) times? before it answered$`, throttledBeforeAnswer,
		"Checks how many 429 answers the last read with a retry policy got before the hub's final answer."),
}

type throttledKey struct{}

// readWithRetryPolicy reads an identity or its twin with a client that
// tries once, or backs off and retries while throttled. The hub's final
// refusal is recorded; how many 429 answers the client saw is kept for
// throttledBeforeAnswer.
func readWithRetryPolicy(ctx context.Context, what, alias, policy string) (context.Context, error) {
	w := worldFrom(ctx)
	attempts := 1
	if policy == "backing off when throttled" {
		attempts = backoffAttempts
	}
	throttled := 0
	observe := func(x service.HTTPExchange) {
		if x.Status == http.StatusTooManyRequests {
			throttled++ // calls to observe come one at a time, from this goroutine
		}
		w.evidence.http(x)
	}
	opts := append(slices.Clip(w.target.RegistryOptions()), service.WithRetry(attempts, backoffBase), service.WithObserver(observe))
	reg, err := service.NewRegistryClient(w.target.ServiceConnectionString(), opts...)
	if err != nil {
		return ctx, err
	}
	kind := map[string]string{"device": "device", "module": "module", "the twin of device": "device", "the twin of module": "module"}[what]
	i, err := w.who(kind, alias)
	if err != nil {
		return ctx, err
	}
	d, m, err := w.ids(i)
	if err != nil {
		return ctx, err
	}
	switch what {
	case "device":
		_, err = reg.GetDevice(ctx, d)
	case "module":
		_, err = reg.GetModule(ctx, d, m)
	case "the twin of device":
		_, err = reg.GetDeviceTwin(ctx, d)
	default:
		_, err = reg.GetModuleTwin(ctx, d, m)
	}
	ctx = context.WithValue(ctx, throttledKey{}, throttled)
	if err != nil {
		return ctx, w.refused(err)
	}
	return ctx, nil
}

// throttledBeforeAnswer checks how many 429 answers the last read saw
// before the hub answered it.
func throttledBeforeAnswer(ctx context.Context, count string) error {
	got, ok := ctx.Value(throttledKey{}).(int)
	if !ok {
		return fmt.Errorf("no read with a retry policy happened before this step")
	}
	if want, _ := strconv.Atoi(count); got != want {
		return fmt.Errorf("expected the hub to throttle the read %d times before it answered, it throttled it %d times", want, got)
	}
	return nil
}

package emulator_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
)

// TestPathsAreNeverRedirected: paths Go's ServeMux would clean and redirect
// ("..", "//") get an answer in the hub's own shape, never a 3xx.
func TestPathsAreNeverRedirected(t *testing.T) {
	s, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs, err := hub.ParseConnectionString(s.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	token, err := hub.BuildSASToken(cs.HostName, cs.SharedAccessKey, cs.SharedAccessKeyName, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: s.TLSConfig()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, path := range []string{"/devices/..", "/devices/.", "//devices/x", "/devices//x", "/twins/../devices/x"} {
		req, err := http.NewRequest(http.MethodPut, s.URL()+path+"?api-version=2021-04-12", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || resp.Header.Get("iothub-errorcode") == "" {
			t.Errorf("PUT %s: %d (iothub-errorcode %q), want a 4xx in the hub's shape", path, resp.StatusCode, resp.Header.Get("iothub-errorcode"))
		}
	}
}

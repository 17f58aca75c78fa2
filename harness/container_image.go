package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/testcontainers/testcontainers-go"
)

// hubspecModule is the module whose checkout the emulator image is built from.
const hubspecModule = "github.com/hubspec/hubspec"

// PingDocker reports whether a Docker engine answers where testcontainers
// looks for one (DOCKER_HOST, ~/.testcontainers.properties, the usual
// sockets). Tests call it to skip the container target, saying why, rather
// than fail on a machine without Docker.
func PingDocker(ctx context.Context) error {
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(printfLogger{discardLogger()}))
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Health(ctx)
}

// ensureImage makes sure the engine has the image to run. The default
// image is (re)built from this checkout every time, so a changed emulator is
// never tested through a stale image; with Go's build cache and Docker's
// layer cache an unchanged tree rebuilds in about a second to the same image.
// An image named by IOTHUB_EMULATOR_IMAGE is used as it is and never built:
// it may be a published image, and a local build must not take its name.
// Building, not pulling, because no registry is assumed.
func ensureImage(ctx context.Context, p *testcontainers.DockerProvider, image string, build bool, log *slog.Logger) error {
	_, err := p.Client().ImageInspect(ctx, image)
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", image, err)
	}
	present := err == nil
	if !build {
		if present {
			return nil
		}
		return fmt.Errorf("image %s is not present (IOTHUB_EMULATOR_IMAGE names an image to run, not one to build; unset it to build the default from this checkout)", image)
	}
	root, err := moduleRoot()
	if err != nil {
		if present {
			log.Info("using the emulator image as it is: no checkout to build it from", "image", image)
			return nil
		}
		return fmt.Errorf("image %s is absent and cannot be built: %w", image, err)
	}
	start := time.Now()
	log.Info("building emulator image", "image", image, "from", root)
	if err := buildImage(ctx, p, root, image, log); err != nil {
		return fmt.Errorf("build image %s: %w", image, err)
	}
	log.Info("built emulator image", "image", image, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// buildImage does what `make image` does, through the Docker API: a static
// binary and the Dockerfile in a fresh context directory, FROM scratch.
func buildImage(ctx context.Context, p *testcontainers.DockerProvider, root, image string, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "hubspec-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile, 0o644); err != nil {
		return err
	}

	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command builds the emulator binary: %w", err)
	}
	build := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags=-s -w",
		"-o", filepath.Join(dir, "iothub-emulator"), "./cmd/iothub-emulator")
	build.Dir = root
	// Linux whatever the host: Docker Desktop on macOS or Windows runs
	// Linux containers in a VM of the host's architecture.
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/iothub-emulator: %w\n%s", err, out)
	}

	repo, tag := splitImage(image)
	var buildLog bytes.Buffer
	_, err = p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context:        dir,
		Repo:           repo,
		Tag:            tag,
		KeepImage:      true, // no session labels: the image outlives this run
		BuildLogWriter: &buildLog,
	}})
	log.Debug("docker build output", "image", image, "log", buildLog.String())
	return err
}

// splitImage splits "repo[:tag]" at the tag's colon, not a registry port's.
func splitImage(image string) (repo, tag string) {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[:i], image[i+1:]
	}
	return image, "latest"
}

// moduleRoot walks up from the working directory (a package directory under
// go test) to the go.mod of the Hubspec module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isHubspecModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module " + hubspecModule + " above the working directory")
		}
		dir = parent
	}
}

func isHubspecModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if path, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(path), `"`) == hubspecModule
		}
	}
	return false
}

// printfLogger routes testcontainers' Printf logging into slog at Debug,
// so its container lifecycle chatter follows the harness's logger instead
// of going to stderr.
type printfLogger struct{ log *slog.Logger }

func (l printfLogger) Printf(format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "from", "testcontainers")
}

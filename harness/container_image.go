package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/testcontainers/testcontainers-go"
)

// ErrNoImage is what the container target's error wraps when the Docker
// engine has no image of the name it was given. The harness runs images and
// never builds or pulls them: `make image` builds the emulator's from a
// checkout.
var ErrNoImage = errors.New("emulator image not present")

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

// EmulatorImageSource is the EmulatorSourceLabel of image: the hash of the
// sources `make image` built it from, "" for an image built otherwise. An
// image the engine does not have is an error wrapping ErrNoImage that says
// how to build it.
func EmulatorImageSource(ctx context.Context, image string) (string, error) {
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(printfLogger{discardLogger()}))
	if err != nil {
		return "", fmt.Errorf("no Docker engine: %w", err)
	}
	defer p.Close()
	return imageSource(ctx, p, image)
}

func imageSource(ctx context.Context, p *testcontainers.DockerProvider, image string) (string, error) {
	ins, err := p.Client().ImageInspect(ctx, image)
	switch {
	case cerrdefs.IsNotFound(err):
		return "", fmt.Errorf("%w: %s; build it from a Hubspec checkout with `%s`, or name another image in IOTHUB_EMULATOR_IMAGE",
			ErrNoImage, image, makeImageCommand(image))
	case err != nil:
		return "", fmt.Errorf("inspect image %s: %w", image, err)
	case ins.Config == nil:
		return "", nil
	}
	return ins.Config.Labels[EmulatorSourceLabel], nil
}

// makeImageCommand is the command that builds image from a checkout.
func makeImageCommand(image string) string {
	if image == DefaultEmulatorImage {
		return "make image"
	}
	return "make image IMAGE=" + image
}

// printfLogger routes testcontainers' Printf logging into slog at Debug,
// so its container lifecycle chatter follows the harness's logger instead
// of going to stderr.
type printfLogger struct{ log *slog.Logger }

func (l printfLogger) Printf(format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "from", "testcontainers")
}

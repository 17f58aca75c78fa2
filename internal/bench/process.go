package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a broker the bench started. Its output lines are kept, the
// last few for error messages, and offered on lines until the bench has
// read what says the broker is ready.
type process struct {
	name  string
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{} // closed once it has exited and its output is read

	mu      sync.Mutex
	tail    []string
	waitErr error
}

// tailLines is how many of a broker's last output lines an error quotes.
const tailLines = 20

// startTimeout bounds a broker's start, until it says it is ready.
const startTimeout = 30 * time.Second

// startProcess starts cmd, reading its stdout and stderr line by line.
func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	// Before it is ready a broker writes a few dozen lines; the buffer
	// holds them all, and later lines it has no room for are dropped
	// (the tail keeps them).
	p := &process{name: name, cmd: cmd, lines: make(chan string, 256), done: make(chan struct{})}
	var read sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		read.Go(func() { p.read(r) })
	}
	go func() {
		read.Wait()
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *process) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
		select {
		case p.lines <- line:
		default:
		}
	}
}

// awaitReady reads the output until ready says the broker is ready; an
// exit or the start timeout first is an error quoting the output's tail.
func (p *process) awaitReady(ctx context.Context, ready func(line string) bool) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		select {
		case line := <-p.lines:
			if ready(line) {
				return nil
			}
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", p.name, p.exitError(), p.output())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w:\n%s", p.name, ctx.Err(), p.output())
		}
	}
}

// stopTimeout is how long a broker has to stop after SIGTERM before it is
// killed.
const stopTimeout = 30 * time.Second

// stop sends SIGTERM and waits for the exit; a broker that takes longer
// than stopTimeout is killed, and that is an error.
func (p *process) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		select {
		case <-p.done: // it had exited already
			return p.exitError()
		default:
			return fmt.Errorf("stop %s: %w", p.name, err)
		}
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.exitError()
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed:\n%s", p.name, stopTimeout, p.output())
	}
}

// pid is the broker's process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w", p.name, p.waitErr)
	}
	return nil
}

// output is the broker's last lines, indented.
func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "  " + strings.Join(p.tail, "\n  ")
}

//go:build !linux

package tunnet

import (
	"errors"
	"net"
)

var errLinuxOnly = errors.New("tunnet: TUN devices and the user-space stack on them are Linux only")

// Available says that this system has no TUN devices tunnet can open.
func Available() error { return errLinuxOnly }

// Net is never opened here.
type Net struct{}

// Open fails: see Available.
func Open(Config) (*Net, error) { return nil, errLinuxOnly }

// Listen fails: see Available.
func (*Net) Listen(uint16) (net.Listener, error) { return nil, errLinuxOnly }

// Close does nothing.
func (*Net) Close() error { return nil }

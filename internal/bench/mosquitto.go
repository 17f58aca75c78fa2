package bench

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hubspec/hubspec/internal/certtest"
)

// mosquittoConfig is the configuration the bench runs Mosquitto with: one
// TLS listener on loopback, password authentication, nothing kept on disk,
// and no log line per connection (the emulator writes none either).
type mosquittoConfig struct {
	Port                                    int
	CAFile, CertFile, KeyFile, PasswordFile string
	// User is whom Mosquitto runs as: started as root it would switch to
	// the "mosquitto" user, which cannot read the bench's files.
	User string
}

// text is the mosquitto.conf.
func (c mosquittoConfig) text() string {
	return strings.Join([]string{
		"# Written by the hubspec bench (internal/bench) for one run.",
		"per_listener_settings false",
		"allow_anonymous false",
		"password_file " + c.PasswordFile,
		"persistence false",
		"user " + c.User,
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"log_type notice",
		"log_type information", // where "mosquitto version ... running" is said
		"connection_messages false",
		"listener " + strconv.Itoa(c.Port) + " 127.0.0.1",
		"cafile " + c.CAFile,
		"certfile " + c.CertFile,
		"keyfile " + c.KeyFile,
		"",
	}, "\n")
}

// passwordLine is user's line in a Mosquitto password file, as
// mosquitto_passwd writes it (Mosquitto 2.0): "$7$", PBKDF2-SHA512 with 101
// iterations, the 12-byte salt and the 64-byte hash in base64.
func passwordLine(user, password string, salt []byte) (string, error) {
	const iterations = 101
	hash, err := pbkdf2.Key(sha512.New, password, salt, iterations, sha512.Size)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("%s:$7$%d$%s$%s\n", user, iterations, b64(salt), b64(hash)), nil
}

// mosquittoUser is the one user the bench's clients log in as.
const mosquittoUser = "hubspec-bench"

// mosquittoProcess is Debian's Mosquitto broker, run for the bench.
type mosquittoProcess struct {
	*process
	addr     string
	tls      *tls.Config
	password string
}

// mosquittoStarts is how many ports startMosquitto tries: a port found
// free may be taken by another process before Mosquitto listens on it.
const mosquittoStarts = 3

// startMosquitto writes a CA, a server certificate for localhost, a
// password file and the configuration into dir, and starts bin with them
// on a free loopback port.
func startMosquitto(ctx context.Context, bin, dir string) (*mosquittoProcess, error) {
	m := &mosquittoProcess{password: rand.Text()}
	cfg, err := writeMosquittoFiles(dir, m.password)
	if err != nil {
		return nil, err
	}
	if m.tls, err = trustPEMFile(cfg.CAFile, "localhost"); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if cfg.Port, err = freePort(); err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "mosquitto.conf")
		if err := os.WriteFile(conf, []byte(cfg.text()), 0o600); err != nil {
			return nil, err
		}
		p, err := startProcess("mosquitto", exec.Command(bin, "-c", conf))
		if err != nil {
			return nil, err
		}
		err = p.awaitReady(ctx, func(line string) bool { return strings.HasSuffix(line, " running") })
		if err == nil {
			m.process, m.addr = p, net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port))
			return m, nil
		}
		_ = p.stop()
		if attempt == mosquittoStarts || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
}

// writeMosquittoFiles writes the certificates, the key and the password
// file into dir and returns the configuration naming them (its port
// unset). The certificates are valid for an hour, longer than a bench runs.
func writeMosquittoFiles(dir, password string) (mosquittoConfig, error) {
	ca, err := certtest.NewCA("hubspec bench CA")
	if err != nil {
		return mosquittoConfig{}, err
	}
	leaf, err := ca.Sign("localhost", func(t *x509.Certificate) {
		t.DNSNames, t.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	if err != nil {
		return mosquittoConfig{}, err
	}
	salt := make([]byte, 12)
	_, _ = rand.Read(salt) // crypto/rand does not fail
	pw, err := passwordLine(mosquittoUser, password, salt)
	if err != nil {
		return mosquittoConfig{}, err
	}
	me, err := user.Current()
	if err != nil {
		return mosquittoConfig{}, err
	}
	cfg := mosquittoConfig{
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "server.pem"),
		KeyFile: filepath.Join(dir, "server-key.pem"), PasswordFile: filepath.Join(dir, "passwd"),
		User: me.Username,
	}
	for path, data := range map[string][]byte{cfg.CAFile: ca.CertPEM(), cfg.CertFile: leaf.CertPEM(), cfg.KeyFile: leaf.KeyPEM(), cfg.PasswordFile: []byte(pw)} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return mosquittoConfig{}, err
		}
	}
	return cfg, nil
}

// freePort is a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// login is what the i-th client of a phase presents in its CONNECT.
func (m *mosquittoProcess) login(phase string, i int) login {
	return login{clientID: benchDevice(phase, i), user: mosquittoUser, password: m.password}
}

// mosquittoVersionRE finds the version in `mosquitto -h`'s first line.
var mosquittoVersionRE = regexp.MustCompile(`mosquitto version (\S+)`)

// MosquittoVersion is the version bin says it is ("2.0.11"), or "" when it
// says none.
func MosquittoVersion(bin string) string {
	out, _ := exec.Command(bin, "-h").CombinedOutput() // -h exits 3 after printing the usage
	if m := mosquittoVersionRE.FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return ""
}

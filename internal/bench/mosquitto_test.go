package bench

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

func TestPasswordLineIsMosquittoPasswds(t *testing.T) {
	// Written by Debian's mosquitto_passwd 2.0.11: `mosquitto_passwd -c -b
	// passwd bench s3cret`.
	const want = "bench:$7$101$FGjYr4lG5yWPf0mx$l5qeA4P96sSO6qofg4Zibl2q+sIxAaVPNsTVxJ5JvP2zkQPfl+f4NHAc8uHicococ63jtYwUiQwZhUImKVPWFg==\n"
	salt, err := base64.StdEncoding.DecodeString("FGjYr4lG5yWPf0mx")
	if err != nil {
		t.Fatal(err)
	}
	got, err := passwordLine("bench", "s3cret", salt)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("password line\n%q, want\n%q", got, want)
	}
	if other, _ := passwordLine("bench", "s3creT", salt); other == want {
		t.Error("another password gives the same line")
	}
}

func TestMosquittoConfigText(t *testing.T) {
	c := mosquittoConfig{Port: 18883, CAFile: "/d/ca.pem", CertFile: "/d/server.pem", KeyFile: "/d/key.pem", PasswordFile: "/d/passwd", User: "bob"}
	lines := strings.Split(c.text(), "\n")
	has := func(line string) bool {
		for _, l := range lines {
			if l == line {
				return true
			}
		}
		return false
	}
	for _, want := range []string{
		"allow_anonymous false", "password_file /d/passwd", "persistence false", "user bob",
		"listener 18883 127.0.0.1", "cafile /d/ca.pem", "certfile /d/server.pem", "keyfile /d/key.pem",
		"connection_messages false", "log_dest stderr",
	} {
		if !has(want) {
			t.Errorf("no line %q in\n%s", want, c.text())
		}
	}
	// The TLS settings belong to the listener: Mosquitto reads them for
	// the listener declared last before them.
	listener := strings.Index(c.text(), "listener ")
	for _, key := range []string{"cafile", "certfile", "keyfile"} {
		if strings.Index(c.text(), key) < listener {
			t.Errorf("%s comes before the listener:\n%s", key, c.text())
		}
	}
}

func TestMosquittoFilesMakeATLSServerForLocalhost(t *testing.T) {
	dir := t.TempDir()
	cfg, err := writeMosquittoFiles(dir, "pw")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatalf("certificate and key do not pair: %v", err)
	}
	client, err := trustPEMFile(cfg.CAFile, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "127.0.0.1"} {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: client.RootCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			t.Errorf("a client dialling %s refuses the server certificate: %v", name, err)
		}
	}
	pw, err := os.ReadFile(cfg.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(pw), mosquittoUser+":$7$101$") {
		t.Errorf("password file %q", pw)
	}
	for _, f := range []string{cfg.CAFile, cfg.CertFile, cfg.KeyFile} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := pem.Decode(raw); b == nil {
			t.Errorf("%s is not PEM", f)
		}
	}
}

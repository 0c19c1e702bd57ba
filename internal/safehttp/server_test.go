package safehttp_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/safehttp"
)

// serve runs settings' server for h on 127.0.0.1 and returns its address.
func serve(t *testing.T, settings safehttp.ServerSettings, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := settings.NewServer(h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// short are settings small enough to watch them act in a test: these
// deadlines belong to net/http and the kernel, which only real time moves.
var short = safehttp.ServerSettings{
	ReadHeaderTimeout: 100 * time.Millisecond,
	ReadTimeout:       200 * time.Millisecond,
	WriteTimeout:      200 * time.Millisecond,
	IdleTimeout:       time.Second,
	MaxHeaderBytes:    4 << 10,
}

func TestDefaultServerSettings(t *testing.T) {
	srv := safehttp.NewServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 ||
		srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 || srv.TLSConfig == nil || srv.TLSConfig.MinVersion < 0x0303 {
		t.Fatalf("server settings %+v", srv)
	}
}

// A client that trickles its headers or its body is cut off, whatever the
// handler does.
func TestSlowClientsAreCutOff(t *testing.T) {
	handled := make(chan error, 1)
	addr := serve(t, short, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		handled <- err
	}))
	for name, partial := range map[string]string{
		"headers": "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
		"body":    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly a little",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		conn.Write([]byte(partial))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, conn) // returns when the server gives up on us
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: the server waited %s for a slow client", name, took)
		}
		conn.Close()
	}
	if err := <-handled; err == nil {
		t.Fatal("a trickled body was read to its end")
	}
}

func TestOversizedHeadersRefused(t *testing.T) {
	addr := serve(t, short, http.NotFoundHandler())
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// A streamed answer outlives ReadTimeout (Go clears the read deadline once
// the request is read), and outlives WriteTimeout when its handler extends
// its deadline; one that does not extend it is cut.
func TestStreamingAnswers(t *testing.T) {
	ack := make(chan struct{})
	addr := serve(t, short, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		extend := r.URL.Query().Get("extend") != ""
		start := time.Now()
		for i := 0; time.Since(start) < 3*short.WriteTimeout; i++ {
			if extend {
				if err := safehttp.ExtendWriteDeadline(r, short.WriteTimeout); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := fmt.Fprintf(w, "chunk %d\n", i); err != nil {
				return
			}
			if err := http.NewResponseController(w).Flush(); err != nil {
				return
			}
			select {
			case <-ack: // the client read it: no chunk waits in a buffer
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintln(w, "end")
	}))
	read := func(query string) (lines []string, err error) {
		resp, err := http.Get("http://" + addr + "/?" + query)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if sc.Text() != "end" {
				select {
				case ack <- struct{}{}:
				case <-time.After(5 * time.Second): // the handler is gone: do not hang the test
					return lines, nil
				}
			}
		}
		return lines, sc.Err()
	}
	lines, err := read("extend=1")
	if err != nil || len(lines) < 2 || lines[len(lines)-1] != "end" {
		t.Fatalf("extended stream: %d lines, %v", len(lines), err)
	}
	lines, _ = read("")
	if len(lines) > 0 && lines[len(lines)-1] == "end" {
		t.Fatal("a stream that did not extend its deadline outlived WriteTimeout")
	}
}

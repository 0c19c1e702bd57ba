package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// ErrPageTooLarge is wrapped by the error of an answer larger than the
// client's MaxPageBytes.
var ErrPageTooLarge = errors.New("answer larger than the page limit")

// ErrNextLinkCycle is wrapped by the error of a listing whose nextLink led
// back to a page already read.
var ErrNextLinkCycle = errors.New("nextLink cycle")

// ErrTimeout is wrapped by every TimeoutError.
var ErrTimeout = errors.New("no complete answer in time")

// TimeoutError is an attempt that got no complete answer within its time:
// a server that never sent its headers, or trickled its body. It is a
// net.Error whose Timeout is true, so it reads as a network failure.
type TimeoutError struct {
	URL   string        // the request's URL
	After time.Duration // the attempt's time limit
	Phase string        // what it was doing: "waiting for the answer", "reading the answer"
	Read  int64         // bytes of the body read when it stopped
}

func (e *TimeoutError) Error() string {
	host := "the login service"
	if u, err := url.Parse(e.URL); err == nil && u.Host != "" {
		host = u.Host
	}
	s := fmt.Sprintf("graph: %s gave no complete answer within %s (%s", host, e.After.Round(time.Second), e.Phase)
	if e.Read > 0 {
		s += fmt.Sprintf(", %d bytes read", e.Read)
	}
	return s + ")"
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Timeout reports true: the error is a timeout.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true, as net.Error asks.
func (e *TimeoutError) Temporary() bool { return true }

// pageReader counts what is read of a body, refuses more than max bytes,
// and keeps the transport's read error apart from the decoder's.
type pageReader struct {
	r   io.Reader
	max int64
	n   int64
	err error // the body's own read error, not io.EOF
}

func (p *pageReader) Read(b []byte) (int, error) {
	if p.n > p.max {
		return 0, p.tooLarge()
	}
	// One byte past max tells a body of exactly max from a larger one.
	if rem := p.max + 1 - p.n; int64(len(b)) > rem {
		b = b[:rem]
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n > p.max {
		return 0, p.tooLarge()
	}
	if err != nil && err != io.EOF {
		p.err = err
	}
	return n, err
}

func (p *pageReader) tooLarge() error {
	return fmt.Errorf("%w (%d MiB)", ErrPageTooLarge, p.max>>20)
}

// MaxPageValues bounds the objects of one page: Graph sends 999 at most,
// and a page of a million empty objects would cost gigabytes decoded.
const MaxPageValues = 10000

// ErrTooManyValues is wrapped by the error of a page holding more than
// MaxPageValues objects.
var ErrTooManyValues = errors.New("page holds too many objects")

// streamDecoder is a value that decodes itself from a stream, a piece at a
// time, instead of having its whole JSON buffered first.
type streamDecoder interface {
	decodeFrom(dec *json.Decoder) error
}

// decodeJSON decodes one JSON value from r into v as it streams in, and
// refuses anything after it (as json.Unmarshal does). A nil v drops the
// body.
func decodeJSON(r io.Reader, v any) error {
	if v == nil {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	dec := json.NewDecoder(r)
	var err error
	if sd, ok := v.(streamDecoder); ok {
		err = sd.decodeFrom(dec)
	} else {
		err = dec.Decode(v)
	}
	if err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("invalid data after the JSON value")
		}
		return err
	}
	return nil
}

// decodeFrom reads a page an object of its value array at a time, so that
// the decoder never buffers more than one object: json.Decoder.Decode of
// the whole page would hold all of its JSON and all of it decoded at once.
// Keys match as json.Unmarshal matches them (case-insensitively; a later
// one wins), and values outside the three a page is read for are skipped.
func (p *pageOf[T]) decodeFrom(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil // null: nothing, as json.Unmarshal does
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("a page must be a JSON object, not %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "@odata.nextLink"):
			if err = dec.Decode(&p.NextLink); err == nil && p.early != nil && p.NextLink != "" {
				p.early(p.NextLink)
			}
		case strings.EqualFold(key, "@odata.deltaLink"):
			err = dec.Decode(&p.DeltaLink)
		case strings.EqualFold(key, "value"):
			err = p.decodeValues(dec)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing brace
	return err
}

func (p *pageOf[T]) decodeValues(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		p.Value = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return &json.UnmarshalTypeError{Value: fmt.Sprint(tok), Type: reflect.TypeFor[[]T](), Field: "value"}
	}
	p.Value = make([]T, 0)
	for dec.More() {
		if len(p.Value) >= MaxPageValues {
			return fmt.Errorf("%w (more than %d)", ErrTooManyValues, MaxPageValues)
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		p.Value = append(p.Value, v)
	}
	_, err = dec.Token() // the closing bracket
	return err
}

// decodePage decodes one Graph page from data as the client decodes every
// page it reads, for tests and the fuzzer.
func decodePage[T any](data []byte, max int64) (pageOf[T], error) {
	var p pageOf[T]
	err := decodeJSON(&pageReader{r: bytes.NewReader(data), max: max}, &p)
	return p, err
}

// redirectError is the error for a 3xx answer, which is never followed.
func redirectError(resp *http.Response) *Error {
	where := "elsewhere"
	if loc, err := resp.Request.URL.Parse(resp.Header.Get("Location")); err == nil && loc.Host != "" {
		where = loc.Scheme + "://" + loc.Host
	}
	return &Error{Status: resp.StatusCode, Code: "redirectRefused", RequestID: resp.Header.Get("request-id"),
		Message: fmt.Sprintf("refusing to follow a redirect to %s: the access token is only sent to the Graph host %s, and a redirect's answer is not Graph data",
			where, resp.Request.URL.Host)}
}

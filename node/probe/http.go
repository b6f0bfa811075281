package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

// maxRedirects is how many redirects an httpGet check follows, as the
// kubelet does.
const maxRedirects = 10

// Response is what an httpGet check received: what a CEL check reads.
type Response struct {
	Status int
	Header http.Header
	// Body is the response's body, at most MaxBody bytes of it.
	Body []byte
	// Truncated says the body was longer than MaxBody.
	Truncated bool
}

// newHTTPClient is the client of httpGet checks: no proxy, no kept
// connections (a check every few seconds to many pods would leave idle ones
// behind), TLS without verification (a pod's certificate names no IP the
// host dials), redirects followed on the same host only, as the kubelet's.
func newHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{}).DialContext,
		DisableKeepAlives:   true,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet: probes check liveness, not identity
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Hostname() != via[0].URL.Hostname() {
			// Another host: the redirect itself (a 3xx) is the answer.
			return http.ErrUseLastResponse
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}}
}

// httpURL is the URL an httpGet handler asks for.
func httpURL(t Target, a manifest.HTTPGetAction) (string, error) {
	addr, err := address(t, a.Host, a.Port)
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(a.Scheme)
	switch scheme {
	case "":
		scheme = "http"
	case "http", "https":
	default:
		return "", fmt.Errorf("scheme %q is neither HTTP nor HTTPS", a.Scheme)
	}
	path := a.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme, u.Host = scheme, addr
	return u.String(), nil
}

// HTTPGet GETs the handler's URL once: a status from 200 to 399 is success.
// It returns what it received, nil when no response came.
func (h *Host) HTTPGet(ctx context.Context, t Target, a manifest.HTTPGetAction) (Result, *Response) {
	target, err := httpURL(t, a)
	if err != nil {
		return Failure("httpGet: %v", err), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return Failure("httpGet: %v", err), nil
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "*/*")
	for _, hd := range a.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Set(hd.Name, hd.Value)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Failure("GET %s: timed out", target), nil
		}
		return Failure("%v", err), nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil && !errors.Is(err, io.EOF) {
		return Failure("GET %s: read the body: %v", target, err), nil
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if len(body) > MaxBody {
		r.Body, r.Truncated = body[:MaxBody], true
	}
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusBadRequest {
		return Failure("HTTP probe failed with statuscode: %d", resp.StatusCode), r
	}
	return Result{Success: true}, r
}

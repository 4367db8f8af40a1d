package swapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fathat101/swdeploy/api"
)

// Fetcher returns the body of an upstream path relative to the API root,
// e.g. "people/?page=2" or "films/1/". Errors are *api.Error: not-found for
// an upstream 404, upstream-error or upstream-timeout otherwise. Client
// implements it over HTTP; a caching decorator can wrap it.
type Fetcher interface {
	Get(ctx context.Context, path string) ([]byte, error)
}

// ClientConfig configures Client. Zero fields take the defaults.
type ClientConfig struct {
	// BaseURL is the upstream API root (STARWARS_SWAPI_URL).
	// Default https://swapi.dev/api/.
	BaseURL string
	// RequestTimeout bounds one upstream request, connection included.
	// Default 5s.
	RequestTimeout time.Duration
	// MaxConcurrent bounds the requests in flight to the upstream; others
	// wait their turn (within their own deadline). Keep it at or above
	// Config.SpeculativePages so that one list is one round trip. Default 16.
	MaxConcurrent int
	// MaxBodyBytes bounds an upstream response. Default 4 MiB.
	MaxBodyBytes int64
}

const (
	DefaultBaseURL        = "https://swapi.dev/api/"
	defaultRequestTimeout = 5 * time.Second
	defaultMaxConcurrent  = 16
	defaultMaxBodyBytes   = 4 << 20
)

// Client fetches from the upstream over HTTP.
type Client struct {
	base    string // ends with "/"
	timeout time.Duration
	maxBody int64
	slots   chan struct{} // one token per request in flight
	http    *http.Client
}

// NewClient checks the configuration and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream url %q: want http(s)://host/path/", cfg.BaseURL)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = defaultMaxConcurrent
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBodyBytes
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.RequestTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxConcurrent,
		MaxIdleConnsPerHost:   cfg.MaxConcurrent,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.RequestTimeout,
		ResponseHeaderTimeout: cfg.RequestTimeout,
	}
	return &Client{
		base:    strings.TrimSuffix(u.String(), "/") + "/",
		timeout: cfg.RequestTimeout,
		maxBody: cfg.MaxBodyBytes,
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		// The context deadline is the real limit; Client.Timeout is a
		// backstop should a caller pass a context without one.
		http: &http.Client{Transport: transport, Timeout: cfg.RequestTimeout},
	}, nil
}

// Get fetches base+path. Only a 200 with a JSON body succeeds, so that
// nothing else is ever cached as data.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return nil, failure(path, ctx.Err())
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, &api.Error{Code: api.CodeUpstreamError, Message: "build request " + path, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, failure(path, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection
		return nil, api.Errorf(api.CodeNotFound, "upstream %s: 404", path)
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, api.Errorf(api.CodeUpstreamError, "upstream %s: status %d", path, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, failure(path, err)
	}
	if int64(len(body)) > c.maxBody {
		return nil, api.Errorf(api.CodeUpstreamError, "upstream %s: body over %d bytes", path, c.maxBody)
	}
	if !json.Valid(body) {
		return nil, api.Errorf(api.CodeUpstreamError, "upstream %s: body is not JSON", path)
	}
	return body, nil
}

// failure translates a transport or context error into an api error.
func failure(path string, err error) error {
	code := api.CodeUpstreamError
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		code = api.CodeUpstreamTimeout
	}
	return &api.Error{Code: code, Message: "upstream " + path, Err: err}
}

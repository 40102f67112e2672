package wsproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// MessageType is the type of a WebSocket data message.
type MessageType int

// The two data message types.
const (
	TextMessage   = MessageType(websocket.TextMessage)
	BinaryMessage = MessageType(websocket.BinaryMessage)
)

func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

// Close codes (RFC 6455 §7.4) that this package sends or reports.
const (
	CloseNormal         = websocket.CloseNormalClosure     // 1000
	CloseGoingAway      = websocket.CloseGoingAway         // 1001
	CloseNoStatus       = websocket.CloseNoStatusReceived  // 1005
	CloseAbnormal       = websocket.CloseAbnormalClosure   // 1006: no close frame; the connection broke
	CloseMessageTooBig  = websocket.CloseMessageTooBig     // 1009
	CloseInternalError  = websocket.CloseInternalServerErr // 1011
	CloseServiceRestart = websocket.CloseServiceRestart    // 1012
	CloseTryAgainLater  = websocket.CloseTryAgainLater     // 1013
)

// More errors callers can branch on.
var (
	// ErrNotConnected is returned by Send while there is no open
	// connection (before Connect, between reconnects, after Close).
	ErrNotConnected = errors.New("websocket not connected")
	// ErrClosed is returned by Connect after Close.
	ErrClosed = errors.New("websocket client closed")
	// ErrDeadPeer is the error of a close event when the peer sent nothing,
	// not even a pong, for two ping intervals.
	ErrDeadPeer = errors.New("peer stopped answering pings")
	// ErrMessageTooBig is the error of a close event when the peer sent a
	// message over the size limit; the connection is closed with 1009.
	ErrMessageTooBig = errors.New("message too big")
)

// Defaults of ClientOptions.
const (
	DefaultPingInterval   = 30 * time.Second
	DefaultMaxMessageSize = 1 << 20 // 1 MiB
	DefaultWriteTimeout   = 10 * time.Second
	DefaultCloseTimeout   = 5 * time.Second
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// URL is the ws:// or wss:// address of the server. Required.
	URL string
	// Dial says how to reach the server: proxy, CA file, headers, bearer
	// token, handshake timeout.
	Dial DialOptions
	// PingInterval is how often a ping is sent. A peer that sends nothing
	// (not even the pong) for 2 × PingInterval is declared dead and the
	// connection is closed. Optional; 0 means DefaultPingInterval, a
	// negative value turns keepalive off.
	PingInterval time.Duration
	// MaxMessageSize is the largest message accepted, in bytes; a larger
	// one closes the connection with 1009. Optional; 0 means
	// DefaultMaxMessageSize.
	MaxMessageSize int64
	// WriteTimeout bounds a Send whose context has no deadline, and each
	// ping. Optional; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// CloseTimeout is how long Close waits for the server to answer the
	// close frame before it drops the connection. Optional; 0 means
	// DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Reconnect makes the client dial again, after Backoff, when the
	// connection breaks or the server closes it with a code that may be
	// temporary (1001, 1005, 1006, 1011–1013). It never reconnects after Close,
	// after a normal close (1000) or after a permanent dial error (refused
	// proxy credentials, a certificate that does not verify, a 4xx answer
	// to the handshake).
	Reconnect bool
	// Backoff spaces the reconnection attempts.
	Backoff Backoff
	// MaxReconnectAttempts stops reconnecting after this many failed dials
	// in a row. Optional; 0 means no limit.
	MaxReconnectAttempts int
	// Logger receives connection and reconnection records. Optional; nil
	// discards them.
	Logger *slog.Logger
}

// EventType names the events a Client emits.
type EventType string

// The events, with the Event fields each one sets.
const (
	EventOpen      EventType = "open"      // a connection is established
	EventMessage   EventType = "message"   // MessageType, Data
	EventClose     EventType = "close"     // Code, Reason; Err when it was not a clean close
	EventError     EventType = "error"     // Err: a dial or write failure
	EventReconnect EventType = "reconnect" // Attempt (1, 2, ...), Delay before the dial
)

// Event is what a Handler receives.
type Event struct {
	Type        EventType
	MessageType MessageType   // message
	Data        []byte        // message; the handler may keep it
	Code        int           // close: the close code (CloseAbnormal when the connection broke)
	Reason      string        // close: the close reason
	Err         error         // error; close, when the connection did not close cleanly
	Attempt     int           // reconnect
	Delay       time.Duration // reconnect
}

// Handler handles an event. Handlers run one at a time, in the order of
// the events, on the goroutine that reads the connection, so a slow handler
// delays the next read. They may call Send, On, Off and Close.
type Handler func(Event)

// HandlerID identifies a handler registered with On, for Off.
type HandlerID uint64

// Client is a WebSocket client that goes through proxies, keeps the
// connection alive and reconnects. It holds at most one connection at any
// time. All methods are safe for concurrent use.
type Client struct {
	opts   ClientOptions
	dialer *Dialer
	log    *slog.Logger
	ctx    context.Context // cancelled by Close: stops dials and backoff waits
	cancel context.CancelFunc

	mu       sync.Mutex
	handlers map[EventType][]handlerEntry
	nextID   HandlerID
	conn     *websocket.Conn // the live connection, nil between connections
	started  bool            // Connect succeeded once
	closing  bool            // Close was called
	err      error           // why the client stopped, for Err
	closeTmr *time.Timer     // drops the connection if the close handshake stalls

	writeMu  sync.Mutex // one data writer at a time
	done     chan struct{}
	doneOnce sync.Once
}

type handlerEntry struct {
	id HandlerID
	h  Handler
}

// NewClient checks opts and returns a Client that is not yet connected.
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.URL == "" {
		return nil, errors.New("websocket client: no URL")
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.MaxMessageSize < 0 {
		return nil, fmt.Errorf("websocket client: max message size %d is negative (want bytes, 0 for the default %d)", opts.MaxMessageSize, DefaultMaxMessageSize)
	}
	if opts.MaxMessageSize == 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = DefaultCloseTimeout
	}
	opts.Backoff = opts.Backoff.withDefaults()
	if opts.Dial.Logger == nil {
		opts.Dial.Logger = opts.Logger
	}
	d, err := NewDialer(opts.Dial)
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts:     opts,
		dialer:   d,
		log:      opts.Logger,
		handlers: map[EventType][]handlerEntry{},
		done:     make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// On registers h for events of type t and returns an ID for Off.
func (c *Client) On(t EventType, h Handler) HandlerID {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	c.handlers[t] = append(c.handlers[t], handlerEntry{id: c.nextID, h: h})
	return c.nextID
}

// Off removes the handler registered under id. It reports whether there
// was one.
func (c *Client) Off(id HandlerID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, hs := range c.handlers {
		for i, e := range hs {
			if e.id == id {
				c.handlers[t] = append(hs[:i:i], hs[i+1:]...)
				return true
			}
		}
	}
	return false
}

func (c *Client) emit(e Event) {
	c.mu.Lock()
	hs := c.handlers[e.Type]
	c.mu.Unlock()
	for _, h := range hs {
		h.h(e)
	}
}

// Connect dials the server and, on success, emits open and starts reading
// in the background until Close (or, without Reconnect, until the
// connection ends). ctx bounds this first dial only, as with
// net.Dialer.DialContext; a failed first dial is returned (and emitted as
// an error event) and not retried, so Connect may be called again.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closing:
		c.mu.Unlock()
		return ErrClosed
	case c.started:
		c.mu.Unlock()
		return errors.New("websocket client: already connected")
	}
	c.started = true // reserve: a concurrent Connect must not dial too
	c.mu.Unlock()

	dctx, stop := context.WithCancel(ctx)
	defer stop()
	unhook := context.AfterFunc(c.ctx, stop) // Close aborts the dial
	defer unhook()
	conn, err := c.dialer.Dial(dctx, c.opts.URL)
	if err != nil {
		c.mu.Lock()
		c.started = false
		closing := c.closing
		c.mu.Unlock()
		if closing { // Close came during the dial and left Done to us
			c.finish(nil)
			return ErrClosed
		}
		c.emit(Event{Type: EventError, Err: err})
		return err
	}
	if !c.setConn(conn) {
		conn.Close()
		c.finish(nil)
		return ErrClosed
	}
	c.log.Info("websocket connected", "url", c.dialer.redactTarget(c.opts.URL), "route", c.Route())
	c.emit(Event{Type: EventOpen})
	go c.run(conn)
	return nil
}

// Route tells how the client reaches its server: "(direct)" or "via
// proxy URL", with the proxy password redacted.
func (c *Client) Route() string { return c.dialer.Route(c.opts.URL) }

// setConn makes conn the live connection, unless Close came first.
func (c *Client) setConn(conn *websocket.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.conn = conn
	return true
}

// Send writes one message. It returns ErrNotConnected when there is no
// open connection; it does not queue. ctx's deadline, or else
// WriteTimeout, bounds the write. A write that fails or is cancelled
// midway breaks the connection (which then reconnects, with Reconnect).
func (c *Client) Send(ctx context.Context, t MessageType, data []byte) error {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return ErrNotConnected
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.opts.WriteTimeout)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = conn.SetWriteDeadline(deadline)
	// gorilla's deadline setter is not safe for concurrent use; the
	// socket's is.
	stop := context.AfterFunc(ctx, func() { _ = conn.NetConn().SetWriteDeadline(time.Unix(1, 0)) })
	err := conn.WriteMessage(int(t), data)
	if !stop() {
		return fmt.Errorf("send: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// Close closes the connection with 1000 and stops reconnecting. It returns
// at once; the close event follows when the server has answered, or after
// CloseTimeout, and Done is closed after it. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	conn, started := c.conn, c.started
	if conn != nil {
		c.closeTmr = time.AfterFunc(c.opts.CloseTimeout, func() { conn.Close() })
	}
	c.mu.Unlock()
	c.cancel()
	if !started {
		c.finish(nil)
		return nil
	}
	if conn != nil {
		msg := websocket.FormatCloseMessage(CloseNormal, "")
		if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.opts.WriteTimeout)); err != nil {
			conn.Close()
		}
	}
	return nil
}

// Done is closed when the client has stopped for good: after Close, or
// when the connection ended and no reconnection follows. The last close
// event has been emitted by then.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err tells why the client stopped, once Done is closed: nil after Close,
// else the last close or dial error.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) finish(err error) {
	c.doneOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		if c.closeTmr != nil {
			c.closeTmr.Stop()
		}
		c.mu.Unlock()
		close(c.done)
	})
}

// run serves connections one after the other until the client stops.
func (c *Client) run(conn *websocket.Conn) {
	for {
		ev := c.serve(conn)
		c.mu.Lock()
		c.conn = nil
		closing := c.closing
		c.mu.Unlock()
		if closing {
			ev.Code, ev.Reason, ev.Err = c.closedByUs(ev)
		}
		c.log.Info("websocket closed", "code", ev.Code, "reason", ev.Reason, "err", ev.Err)
		c.emit(ev)
		if closing {
			c.finish(nil)
			return
		}
		if !c.opts.Reconnect || !retryableClose(ev.Code) {
			c.finish(closeErr(ev))
			return
		}
		var err error
		if conn, err = c.redial(); conn == nil {
			c.finish(err) // nil when Close stopped the redial
			return
		}
	}
}

// closedByUs is the close event after Close: the server's answer, or a
// clean 1000 when the connection was dropped after CloseTimeout.
func (c *Client) closedByUs(ev Event) (int, string, error) {
	if ev.Code == CloseAbnormal {
		return CloseNormal, "closed by client", nil
	}
	return ev.Code, ev.Reason, ev.Err
}

func closeErr(ev Event) error {
	if ev.Err != nil {
		return ev.Err
	}
	if ev.Code != CloseNormal {
		return &websocket.CloseError{Code: ev.Code, Text: ev.Reason}
	}
	return nil
}

// retryableClose reports whether a connection that ended with code may
// succeed again.
func retryableClose(code int) bool {
	switch code {
	case CloseGoingAway, CloseAbnormal, CloseNoStatus, CloseInternalError, CloseServiceRestart, CloseTryAgainLater:
		return true
	}
	return false
}

// redial dials with backoff until it succeeds, Close is called, the error
// is permanent or MaxReconnectAttempts is reached.
func (c *Client) redial() (*websocket.Conn, error) {
	for attempt := 1; ; attempt++ {
		delay := c.opts.Backoff.Delay(attempt)
		c.log.Info("websocket reconnecting", "attempt", attempt, "delay", delay)
		c.emit(Event{Type: EventReconnect, Attempt: attempt, Delay: delay})
		if c.opts.Backoff.Sleep(c.ctx, delay) != nil {
			return nil, nil // Close was called
		}
		conn, err := c.dialer.Dial(c.ctx, c.opts.URL)
		if err == nil {
			if !c.setConn(conn) {
				conn.Close()
				return nil, nil
			}
			c.log.Info("websocket reconnected", "url", c.dialer.redactTarget(c.opts.URL), "attempt", attempt)
			c.emit(Event{Type: EventOpen})
			return conn, nil
		}
		if c.ctx.Err() != nil {
			return nil, nil
		}
		c.log.Warn("websocket reconnect failed", "attempt", attempt, "err", err)
		c.emit(Event{Type: EventError, Err: err})
		if permanent(err) {
			return nil, err
		}
		if c.opts.MaxReconnectAttempts > 0 && attempt >= c.opts.MaxReconnectAttempts {
			return nil, fmt.Errorf("gave up after %d reconnection attempts: %w", attempt, err)
		}
	}
}

// serve reads conn until it ends and returns the close event. It sends
// pings meanwhile and declares the peer dead after 2 × PingInterval of
// silence.
func (c *Client) serve(conn *websocket.Conn) Event {
	conn.SetReadLimit(c.opts.MaxMessageSize)
	interval := c.opts.PingInterval
	var alive func()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if interval > 0 {
		alive = func() { _ = conn.SetReadDeadline(time.Now().Add(2 * interval)) }
		alive()
		conn.SetPongHandler(func(string) error { alive(); return nil })
		conn.SetPingHandler(func(data string) error {
			alive()
			err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.opts.WriteTimeout))
			if err != nil && !errors.Is(err, websocket.ErrCloseSent) && !isTimeout(err) {
				return err
			}
			return nil
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.ping(conn, interval, stop)
		}()
	}
	defer func() {
		close(stop)
		conn.Close()
		wg.Wait()
	}()
	for {
		t, data, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has sent 1009; let the peer finish its write
				// and read the close frame rather than meet a reset.
				drain(conn.NetConn(), c.opts.CloseTimeout)
			}
			return c.closeEvent(err)
		}
		c.emit(Event{Type: EventMessage, MessageType: MessageType(t), Data: data})
		if alive != nil {
			alive()
		}
	}
}

func (c *Client) ping(conn *websocket.Conn, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			// A failed ping needs no handling: the read deadline notices.
			_ = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout))
		}
	}
}

// closeEvent turns the error that ended the read loop into a close event.
func (c *Client) closeEvent(err error) Event {
	ev := Event{Type: EventClose}
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		ev.Code, ev.Reason = ce.Code, ce.Text
		if ce.Code != CloseNormal && ce.Code != CloseGoingAway {
			ev.Err = err
		}
	case errors.Is(err, websocket.ErrReadLimit):
		ev.Code, ev.Reason = CloseMessageTooBig, "message too big"
		ev.Err = fmt.Errorf("%w: over the limit of %d bytes", ErrMessageTooBig, c.opts.MaxMessageSize)
	case isTimeout(err):
		ev.Code = CloseAbnormal
		ev.Err = fmt.Errorf("%w: nothing received for %s (2 × ping interval)", ErrDeadPeer, 2*c.opts.PingInterval)
	default:
		ev.Code = CloseAbnormal
		ev.Err = err
		if errors.Is(err, net.ErrClosed) {
			ev.Err = fmt.Errorf("connection closed: %w", err)
		}
	}
	return ev
}

// drain reads and discards what the peer sends, for at most d or until
// it closes the connection.
func drain(nc net.Conn, d time.Duration) {
	_ = nc.SetReadDeadline(time.Now().Add(d))
	_, _ = io.Copy(io.Discard, nc)
}

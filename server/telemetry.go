package server

import (
	"net/http"

	"github.com/factory-wager/edgeconf/telemetry"
)

// getTelemetry summarises the Worker's errors, counters and latencies per
// version, with the most recent errors (package telemetry).
func (s *Server) getTelemetry(w http.ResponseWriter, r *http.Request) error {
	ses, err := s.session(r, false)
	if err != nil {
		return err
	}
	defer ses.Close()
	if ses.Store == nil {
		writeJSON(w, http.StatusOK, &telemetry.Summary{Versions: []telemetry.Version{}, Errors: []telemetry.Error{}})
		return nil
	}
	sum, err := telemetry.Read(r.Context(), ses.Store)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "read the Worker's telemetry: %v", err)
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}

package redis

// TrackingAddr is the local address of the tracking connection, as Redis
// lists it (CLIENT LIST addr=), or "" while there is none.
func (r *Revocations) TrackingAddr() string {
	r.mem.mu.Lock()
	defer r.mem.mu.Unlock()
	if r.mem.conn == nil {
		return ""
	}
	return r.mem.conn.LocalAddr().String()
}

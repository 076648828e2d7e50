package web

// Alerting returns what the server keeps the reminder muting of
// /manager/prober/alerts/ignored/ in: the Options.Alerting it was given, or
// its own memory. A server built again from a reloaded config is given it,
// so that the muting outlives the reload.
func (s *Server) Alerting() Alerting { return s.alerting }

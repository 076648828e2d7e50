// Package subscribe keeps visitors and partners told about what the status
// page says: incidents opened, updated and resolved, maintenance windows
// scheduled, starting and ending, and new announcements, for the services
// each subscriber chose.
//
// Visitors subscribe by e-mail on the page, with double opt-in: a
// confirmation mail carries a signed link that expires after LinkLifetime,
// and nothing else is sent to an address until it is confirmed. Partners'
// webhooks are added through the manager API only, so that the public page
// can never make Vigil call an address of someone's choosing.
//
// Nothing is sent from here directly: every message is an entry of the
// durable outbox, one per subscriber and event, whose idempotency key is
// derived from both, so that a restart or a second cluster member sends
// nothing twice. The outbox delivers on the cluster leader only; its
// channels for subscribers (ChannelEmail, ChannelWebhook) find their
// recipients in the store when a message is sent, so that an unsubscribe
// stops whatever is still queued.
package subscribe

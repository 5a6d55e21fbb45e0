// Package httpcall holds what the harvester's HTTP connectors (Libris, Netpunkt) do the
// same way around one call to a remote ILL system: the traced client with phase timeouts
// and its redirect policy, the bounds every call is held to (Bounded: its deadline, the
// least rate of its answer, the bytes read per run), validating a base URL, the retry
// loop with full-jitter backoff and Retry-After, and turning an error answer into a
// short, secret-free message for staff.
//
// What the systems do differently (how a request is built, what an accepted answer means,
// whether error answers are HTML or XML) stays in each connector, or is a parameter here.
package httpcall

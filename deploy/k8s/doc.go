// Package k8s holds the Kubernetes manifests of the Interloan suite (a kustomize base and
// overlays, see README.md) and, in its tests, their offline validation: every overlay is
// built with the kustomize API, each object is decoded strictly into its k8s.io/api type,
// and the probes, ports, mounted files and NetworkPolicy are checked against the
// services' own configuration code. It is a module of its own so that the services never
// depend on the Kubernetes libraries.
package k8s

/** The Kubernetes-compatible API server. */
package dev.skiff.apiserver;

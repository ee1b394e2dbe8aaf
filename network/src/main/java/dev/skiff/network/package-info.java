/**
 * Service networking on a node: the service proxy (ClusterIP and NodePort forwarding to ready
 * endpoints) and the cluster DNS server. Both watch the API only, like every other component.
 */
package dev.skiff.network;

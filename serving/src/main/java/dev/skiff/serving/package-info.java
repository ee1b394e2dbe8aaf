/**
 * Knative Serving v1 built in: the Service, Configuration, Revision and Route controllers, the
 * gateway (Host routing, traffic split, tags), the autoscaler (KPA) and the activator.
 */
package dev.skiff.serving;

"""Workloads as pod templates × replicas (Deployment, StatefulSet, DaemonSet, Job, ...)."""

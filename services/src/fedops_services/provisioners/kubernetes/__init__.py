"""The kubernetes provisioner: per task a Deployment, Service, volume claim, ConfigMap and Secret."""

from fedops_services.provisioners.kubernetes.provisioner import KubernetesProvisioner

__all__ = ["KubernetesProvisioner"]

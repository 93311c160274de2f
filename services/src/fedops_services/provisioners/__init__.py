"""Provisioners: how a task's FL server comes to run (local processes or Kubernetes)."""

from fedops_services.config import Settings
from fedops_services.provisioners.base import (
    CredentialsMissingError,
    ObservedServer,
    Provisioner,
    ProvisionerError,
    ServerDeployment,
)

__all__ = [
    "CredentialsMissingError",
    "ObservedServer",
    "Provisioner",
    "ProvisionerError",
    "ServerDeployment",
    "make_provisioner",
]


def make_provisioner(settings: Settings) -> Provisioner:
    if settings.provisioner == "kubernetes":
        from fedops_services.provisioners.kubernetes import KubernetesProvisioner

        return KubernetesProvisioner(settings.kubernetes)
    from fedops_services.provisioners.local import LocalProvisioner

    return LocalProvisioner(
        settings.servers_dir,
        command_template=settings.server_command,
        advertise_host=settings.advertise_host,
        health_path=settings.server_health_path,
        health_ca=settings.fleet_tls_ca,
    )

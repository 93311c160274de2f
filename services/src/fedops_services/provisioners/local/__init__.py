"""The local provisioner: FL servers as supervised processes on this machine."""

from fedops_services.provisioners.local.provisioner import LocalProvisioner

__all__ = ["LocalProvisioner"]

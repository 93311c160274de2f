"""/api/v1/conversions: other tools' files as task specs; nothing is created."""

from __future__ import annotations

from fastapi import APIRouter

from fedops.api.schemas import FedopsConfigConversion, FedopsConfigConversionRequest
from fedops_services.api.deps import PrincipalDep
from fedops_services.api.routes._common import ERRORS
from fedops_services.api.strict import StrictRoute
from fedops_services.registry.conversions import convert_fedops_config_text

router = APIRouter(prefix="/api/v1/conversions", tags=["tasks"], responses=ERRORS, route_class=StrictRoute)


@router.post("/fedops-config", operation_id="convertFedopsConfig")
def convert_fedops_config(
    request: FedopsConfigConversionRequest, principal: PrincipalDep
) -> FedopsConfigConversion:
    """The task spec a FedOps ``conf/config.yaml`` (its text) becomes, and a note for each key
    that was not mapped; 422 names every unusable key as ``config.<key>``. Create the task
    with POST /api/v1/tasks."""
    return convert_fedops_config_text(principal, request.config, name=request.name)

"""Model registry: versions, artifacts, flavors; endpoints and their traffic policy."""

from modelport.registry.records import ModelVersion, parse_ref
from modelport.registry.service import Registration, Registry

__all__ = ["ModelVersion", "Registration", "Registry", "parse_ref"]

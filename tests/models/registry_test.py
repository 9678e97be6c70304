"""Registry: edge settings every model accepts besides its own config."""

import pytest

from tfinpaint.models import registry


def test_edge_settings_are_build_overrides_for_every_model():
    """``context_margin`` (registry.EDGE_CONFIG) is accepted by every model, set as an attribute
    the edge path reads, recorded in ``registry_config``, and checked."""
    from tfinpaint.edge import edge_settings

    model = registry.build("pconv_unet", layer_size=4, base_channels=8, context_margin=16)
    assert edge_settings(model) == {"size_multiple": 16, "min_size": 0, "context_margin": 16}
    assert model.registry_config == {"layer_size": 4, "base_channels": 8, "context_margin": 16}
    assert edge_settings(registry.build("pconv_unet", layer_size=4))["context_margin"] == 0
    with pytest.raises(ValueError, match="context_margin must be >= 0"):
        registry.build("pconv_unet", layer_size=4, context_margin=-1)
    with pytest.raises(ValueError, match="context_margin"):
        registry.build("pconv_unet", layer_size=4, context_margin="64")

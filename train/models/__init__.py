"""Model builders: backbones (MobileNet v1/v2/v3, pretrained weights), classifier and detector heads."""

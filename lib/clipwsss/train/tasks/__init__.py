"""Layer 4: the methods as tasks of the shared training engine (one module per method).

``weclip`` (WeCLIP), ``weakclip`` (WeakCLIP), ``deeplab`` (DeepLabV2 on pseudo-masks): each
gives the engine its model, data, parameter groups and loss; the models themselves live in
``clipwsss.methods`` / ``clipwsss.seg`` (layer 3), which never import the engine. Kept free of
imports so that importing one task does not load the others.
"""

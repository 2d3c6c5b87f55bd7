"""neurospell.lm_fusion"""

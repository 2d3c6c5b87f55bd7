"""neurospell.gui"""

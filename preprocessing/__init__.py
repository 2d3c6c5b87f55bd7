"""neurospell.preprocessing"""

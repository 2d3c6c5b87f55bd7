"""neurospell.decoder"""

"""neurospell.acquisition"""

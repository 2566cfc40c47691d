"""services/parser"""

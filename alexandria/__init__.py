"""alexandria"""

"""Answering questions from retrieved passages. The extractive path needs no language model."""

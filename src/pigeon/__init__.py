"""Pigeon: a self-hosted SMS platform speaking the Alibaba Cloud Dysmsapi API."""

__version__ = "0.1.0"

"""Dagster resources, one per external system."""

from blog_pipeline.resources.buffer import BufferResource, QueuedPost
from blog_pipeline.resources.openai_chat import ChatCompletion, OpenAIResource
from blog_pipeline.resources.settings import PipelineSettings
from blog_pipeline.resources.smtp import SMTPResource

__all__ = [
    "BufferResource",
    "ChatCompletion",
    "OpenAIResource",
    "PipelineSettings",
    "QueuedPost",
    "SMTPResource",
]

"""The segment task queue: messages, the in-process and RabbitMQ queues, the task outbox."""

package broker

import (
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
)

func bindingMessage(e *cloudevents.Event) binding.Message { return binding.ToMessage(e) }

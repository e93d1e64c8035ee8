module github.com/promptfoo/promptfoo/examples/golang-provider

go 1.23.6

require github.com/sashabaranov/go-openai v1.37.0
